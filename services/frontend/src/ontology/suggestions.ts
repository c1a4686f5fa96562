import { ONTOLOGY_CATEGORIES, type OntologyCategory, type Suggestion } from "../api";

/** The augment job's suggestions as the Ontology page shows them: what in the persona's videos each comes from
 * (`evidence`, none for the fixed vocabulary) and WordNet's gloss and hypernyms where it knows the word. */
export function suggestionsOf(result: Record<string, unknown> | null | undefined): Suggestion[] {
  const raw = (result?.suggestions ?? []) as Array<Record<string, unknown>>;
  return raw.map((s) => ({
    category: normaliseCategory(String(s.category ?? s.kind ?? "entityTypes")),
    name: String(s.name ?? ""), description: String(s.description ?? ""),
    confidence: Number(s.confidence ?? 0), reason: String(s.reason ?? ""),
    evidence: typeof s.evidence === "string" && s.evidence ? s.evidence : null,
    gloss: typeof s.gloss === "string" && s.gloss ? s.gloss : null,
    hypernyms: Array.isArray(s.hypernyms) ? s.hypernyms.map(String) : [],
  }));
}

function normaliseCategory(c: string): OntologyCategory {
  const found = ONTOLOGY_CATEGORIES.find((k) => k === c || k.startsWith(c.replace(/s$/, "").toLowerCase()));
  return found ?? "entityTypes";
}

/** "a vehicle carrying many passengers; used for public transport — a kind of public transport", or null when
 * WordNet does not know the word (nothing is made up). */
export function glossLine(s: Pick<Suggestion, "gloss" | "hypernyms">): string | null {
  if (!s.gloss) return null;
  return s.hypernyms.length ? `${s.gloss} — a kind of ${s.hypernyms.join(", ")}` : s.gloss;
}
