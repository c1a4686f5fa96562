/** What a summary's `built_from` says about its text (model_service.summary.llm_text): `text` is "llm <model>"
 * when a language model wrote the prose, else "template"; `text_fallback` says why the template was used although
 * an endpoint is configured (unreachable, an error, an empty answer). */
export type TextSource = { text?: string; text_fallback?: string };

/** The panel's line saying who wrote the text, so an analyst never takes the template for the model or back. */
export function textAuthor(builtFrom: TextSource | undefined): string {
  const by = builtFrom?.text ?? "template";
  if (by.startsWith("llm ")) return `Text written by the language model ${by.slice("llm ".length)} from this evidence`;
  const template = "Text written from the evidence template";
  return builtFrom?.text_fallback ? `${template}: the language model did not answer (${builtFrom.text_fallback})` : template;
}
