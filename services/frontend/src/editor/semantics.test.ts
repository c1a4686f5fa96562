/** The ontology's rules for events and relations, case by case from semantics.cases.json (the server runs the same). */
import { describe, expect, test } from "vitest";
import cases from "./semantics.cases.json";
import { checkEvent, checkRelation, type Resolved } from "./semantics";
import type { Ref } from "./types";

const objects = cases.objects as Record<string, Resolved>;
const resolve = (ref: Ref): Resolved | null => objects[`${ref.kind}:${ref.id}`] ?? null;

describe("semantics", () => {
  for (const c of cases.cases) {
    test(c.name, () => {
      const problems = "event" in c && c.event
        ? checkEvent(c.event as { type: string; roles: Record<string, Ref[]> }, cases.ontology, resolve)
        : checkRelation((c as { relation: { type: string; source: Ref; target: Ref } }).relation, cases.ontology, resolve);
      expect(problems).toEqual(c.problems);
    });
  }
});
