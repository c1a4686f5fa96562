import { describe, expect, test } from "vitest";
import { glossLine, suggestionsOf } from "./suggestions";

describe("suggested types", () => {
  test("carry their evidence from the persona's videos and WordNet's gloss with its hypernyms", () => {
    const [bus, emisiones, person] = suggestionsOf({ suggestions: [
      { category: "entityTypes", name: "Bus", description: "A bus visible in the scene", confidence: 0.9,
        reason: "bus: 12 detections in 3 videos of this persona", evidence: "bus: 12 detections in 3 videos",
        gloss: "a vehicle carrying many passengers; used for public transport", hypernyms: ["public transport"] },
      { category: "entityTypes", name: "Emisiones", description: "'emisiones': on screen in 1 video", confidence: 0.4,
        reason: "…", evidence: "'emisiones': on screen in 1 video", gloss: null, hypernyms: [] },
      { kind: "entity", name: "Person", description: "A human", confidence: 0.5, reason: "related" },
    ] });
    expect(bus.evidence).toBe("bus: 12 detections in 3 videos");
    expect(glossLine(bus)).toBe("a vehicle carrying many passengers; used for public transport — a kind of public transport");
    expect(emisiones.evidence).toBe("'emisiones': on screen in 1 video");
    expect(glossLine(emisiones)).toBeNull();
    // The fixed vocabulary (and a result from before evidence existed): no evidence, no gloss.
    expect([person.category, person.evidence, person.hypernyms, glossLine(person)]).toEqual(["entityTypes", null, [], null]);
  });

  test("a gloss without hypernyms is shown alone", () => {
    expect(glossLine({ gloss: "a human being", hypernyms: [] })).toBe("a human being");
  });
});
