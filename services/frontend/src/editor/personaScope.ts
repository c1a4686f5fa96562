/**
 * The persona the workspace works as (issue 21): it shows and saves that persona's annotations, and the team's ones
 * that belong to no persona (made by scripts or imports, or before anyone chose: nobody's, so editable in every
 * persona's workspace). Asked to, it also shows every other persona's tracks — read only, drawn faded, never part of
 * the document it edits, so no edit, undo or save can touch them. The server keeps the same rule for every save
 * scoped to a persona (services/backend/fovea_backend/persona_scope.py): a save naming another persona's track is
 * refused whole.
 *
 * Plain data in, plain data out: the workspace calls these, components draw what they return.
 */
import type { AnnotationEvent, Relation, Track } from "./types";

/** The scope of the annotations without a persona (and of a person who works without one). */
export const NO_PERSONA = "none";

/** A persona's id, or NO_PERSONA. */
export type PersonaScope = string;

/** Anything with a persona: a track, an event, a relation. */
export interface HasPersona {
  personaId: string | null;
}

/** Whether the workspace of `scope` edits this object: its persona's, or nobody's. */
export function inScope(o: HasPersona, scope: PersonaScope): boolean {
  return o.personaId == null || o.personaId === scope;
}

/** The persona a new track, event or relation made in this scope gets. */
export function personaForNew(scope: PersonaScope): string | null {
  return scope === NO_PERSONA ? null : scope;
}

export interface LoadedObjects {
  tracks: Track[];
  events: AnnotationEvent[];
  relations: Relation[];
}

/**
 * A loaded document split in two: what the workspace edits (in scope) and the other personas' tracks it may show
 * read only. Whatever the server sent (a scoped read holds no others), nothing out of scope reaches `mine`.
 */
export function splitByScope<D extends LoadedObjects>(loaded: D, scope: PersonaScope): { mine: LoadedObjects; others: Track[] } {
  return {
    mine: {
      tracks: loaded.tracks.filter((t) => inScope(t, scope)),
      events: loaded.events.filter((e) => inScope(e, scope)),
      relations: loaded.relations.filter((r) => inScope(r, scope)),
    },
    others: loaded.tracks.filter((t) => !inScope(t, scope)),
  };
}

export interface PersonaOption {
  id: string;
  hidden?: boolean;
}

/**
 * The scope a video opens in: the one this person chose in this video last time, else the one they used last
 * anywhere, else the first persona on the list — each only while it can still be chosen (a persona deleted or
 * hidden since is passed over), and no persona when there is none.
 */
export function chooseScope(savedHere: string | null | undefined, lastUsed: string | null | undefined,
  personas: readonly PersonaOption[]): PersonaScope {
  const choosable = (scope: string | null | undefined): scope is string =>
    scope === NO_PERSONA || personas.some((p) => p.id === scope && !p.hidden);
  if (choosable(savedHere)) return savedHere;
  if (choosable(lastUsed)) return lastUsed;
  return personas.find((p) => !p.hidden)?.id ?? NO_PERSONA;
}

/** The label of another persona's box: whose it is, so a faded box is never mistaken for one's own. */
export function othersCaption(track: Track, personaNames: ReadonlyMap<string, string>): string {
  const whose = track.personaId ? personaNames.get(track.personaId) ?? "another persona" : "no persona";
  return `${track.label} · ${whose}`;
}

/** What a kept change says about its object (editor/changes.ts's ObjectChange, without its parts). */
export interface ChangeRef {
  op: "create" | "update" | "delete";
  kind?: "track" | "event" | "relation";
  id: string;
}

/**
 * Whether unsaved changes this browser kept for a video before workspaces had a persona (one journal per video) may
 * be replayed into the workspace of `scope`: every object they touch is this workspace's — held by it (`held`; a
 * create excepted) and, as the changes left it, still in scope. If not, they are left untouched rather than saved as
 * the wrong persona. `objects`: each object as the changes left it (null: deleted), by `kind:id` (older: a track's id).
 */
export function changesFitScope(changes: readonly ChangeRef[], objects: Readonly<Record<string, HasPersona | null>>,
  scope: PersonaScope, held: (kind: "track" | "event" | "relation", id: string) => boolean): boolean {
  return changes.every((change) => {
    const kind = change.kind ?? "track";
    const left = objects[`${kind}:${change.id}`] ?? (kind === "track" ? objects[change.id] : undefined) ?? null;
    if (change.op !== "create" && !held(kind, change.id)) return false;
    return left === null || inScope(left, scope);
  });
}
