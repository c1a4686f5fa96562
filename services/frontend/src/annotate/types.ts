/** The selected persona's ontology types as the workspace shows them: a name and a colour per type id. */
import type { Ontology, OntologyType } from "../api";
import { colorFor } from "../ui/format";
import type { Track } from "../editor/types";

export interface TypeInfo {
  id: string;
  name: string;
  color: string;
}

export type TypeIndex = Map<string, TypeInfo>;

export function indexTypes(ontology: Ontology | undefined): TypeIndex {
  const index: TypeIndex = new Map();
  for (const t of (ontology?.entityTypes ?? []) as OntologyType[]) {
    index.set(t.id, { id: t.id, name: t.name || t.id, color: t.color || colorFor(t.name || t.id) });
  }
  return index;
}

export function trackColor(track: Pick<Track, "type" | "label">, types: TypeIndex): string {
  return types.get(track.type)?.color ?? colorFor(track.label || track.type);
}

export function typeName(type: string, types: TypeIndex): string {
  return types.get(type)?.name ?? type;
}
