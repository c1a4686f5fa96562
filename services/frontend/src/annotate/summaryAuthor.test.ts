import { expect, test } from "vitest";
import { textAuthor } from "./summaryAuthor";

test("the summary panel names the language model that wrote the text", () => {
  expect(textAuthor({ text: "llm smollm2-135m-instruct" }))
    .toBe("Text written by the language model smollm2-135m-instruct from this evidence");
});

test("the template is named as such, with the reason when the language model failed", () => {
  expect(textAuthor({ text: "template" })).toBe("Text written from the evidence template");
  // Summaries stored before built_from.text existed were all the template's.
  expect(textAuthor({})).toBe("Text written from the evidence template");
  expect(textAuthor(undefined)).toBe("Text written from the evidence template");
  const failed = textAuthor({ text: "template", text_fallback: "llm smollm2-135m-instruct at http://llm:8080/v1 failed (ConnectError: ...)" });
  expect(failed).toBe("Text written from the evidence template: the language model did not answer "
    + "(llm smollm2-135m-instruct at http://llm:8080/v1 failed (ConnectError: ...))");
});
