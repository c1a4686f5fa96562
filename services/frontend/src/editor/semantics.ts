/**
 * What a persona's ontology allows an event or a relation to say — the editor's copy of the server's rules
 * (services/backend/fovea_backend/semantics.py; `semantics.cases.json` holds the cases both run), applied before an
 * edit so a role filled with the wrong type or a relation that breaks its constraint is refused at its place with a
 * message, and nothing changes.
 *
 *   eventTypes[].roles: [{roleTypeId, optional?, maxOccurrences?}]   the role slots of an event type
 *   roleTypes[].allowedFillerTypes / relationTypes[].sourceTypes, targetTypes:
 *       empty: anything; "entity" / "event": any object of that kind; a type id: objects of that type
 *
 * A track is evidence of an entity (kind "entity", its type the track's); a world entity has the type this persona
 * gave it (typeAssignments); an event is of kind "event" with its type.
 */
import type { Ref } from "./types";

export interface OntologyTypeLike {
  id: string;
  name?: string;
  roles?: Array<{ roleTypeId: string; optional?: boolean; maxOccurrences?: number }>;
  allowedFillerTypes?: string[];
  sourceTypes?: string[];
  targetTypes?: string[];
}

export interface OntologyLike {
  entityTypes?: OntologyTypeLike[];
  eventTypes?: OntologyTypeLike[];
  roleTypes?: OntologyTypeLike[];
  relationTypes?: OntologyTypeLike[];
}

export interface Resolved {
  kind: "entity" | "event";
  typeId: string | null;
  /** For messages: track «bus 3», entity «Ann», event «goal». */
  description: string;
}

export type Resolver = (ref: Ref) => Resolved | null;

/** A problem: where inside the object (["roles", roleId, 0], ["source"], ["type"]) and why. */
export interface Problem {
  where: Array<string | number>;
  message: string;
}

const find = (list: OntologyTypeLike[] | undefined, id: string) => list?.find((t) => t.id === id);

function typeName(o: OntologyLike, typeId: string | null): string {
  if (typeId === null) return "of no type";
  const t = find(o.entityTypes, typeId) ?? find(o.eventTypes, typeId);
  return t ? `a ${t.name || typeId}` : `of type ${typeId}`;
}

function allowed(list: string[] | undefined, what: Resolved): boolean {
  return !list || list.length === 0 || list.includes(what.kind) || (what.typeId !== null && list.includes(what.typeId));
}

function describeAllowed(o: OntologyLike, list: string[]): string {
  return list.map((item) => (item === "entity" || item === "event" ? `any ${item}`
    : (find(o.entityTypes, item) ?? find(o.eventTypes, item))?.name || item)).join(" or ");
}

export function checkEvent(event: { type: string; roles: Record<string, Ref[]> }, o: OntologyLike | null, resolve: Resolver): Problem[] {
  if (!o) return [];
  const eventType = find(o.eventTypes, event.type);
  if (!eventType) {
    const names = (o.eventTypes ?? []).map((t) => t.name || t.id).join(", ") || "none yet";
    return [{ where: ["type"], message: `'${event.type}' is not an event type of this persona (it has: ${names})` }];
  }
  const problems: Problem[] = [];
  for (const [roleId, fillers] of Object.entries(event.roles ?? {})) {
    const slot = eventType.roles?.find((r) => r.roleTypeId === roleId);
    const role = find(o.roleTypes, roleId);
    const roleName = role?.name || roleId;
    if (!slot) {
      problems.push({ where: ["roles", roleId], message: `${eventType.name || event.type} has no role ${roleName}` });
      continue;
    }
    if (typeof slot.maxOccurrences === "number" && fillers.length > slot.maxOccurrences) {
      problems.push({ where: ["roles", roleId], message: `the role ${roleName} takes at most ${slot.maxOccurrences}, got ${fillers.length}` });
    }
    fillers.forEach((ref, i) => {
      const what = resolve(ref);
      if (!what) {
        problems.push({ where: ["roles", roleId, i], message: `the role ${roleName} names a ${ref.kind} that does not exist here: ${ref.id}` });
      } else if (!allowed(role?.allowedFillerTypes, what)) {
        problems.push({ where: ["roles", roleId, i],
          message: `${what.description} is ${typeName(o, what.typeId)}; the role ${roleName} takes ${describeAllowed(o, role!.allowedFillerTypes!)}` });
      }
    });
  }
  return problems;
}

export function checkRelation(relation: { type: string; source: Ref; target: Ref }, o: OntologyLike | null, resolve: Resolver): Problem[] {
  if (!o) return [];
  const relationType = find(o.relationTypes, relation.type);
  if (!relationType) {
    const names = (o.relationTypes ?? []).map((t) => t.name || t.id).join(", ") || "none yet";
    return [{ where: ["type"], message: `'${relation.type}' is not a relation type of this persona (it has: ${names})` }];
  }
  const name = relationType.name || relation.type;
  const problems: Problem[] = [];
  for (const [end, constraint] of [["source", "sourceTypes"], ["target", "targetTypes"]] as const) {
    const ref = relation[end];
    const what = resolve(ref);
    if (!what) {
      problems.push({ where: [end], message: `the ${end} is a ${ref.kind} that does not exist here: ${ref.id}` });
    } else if (!allowed(relationType[constraint], what)) {
      problems.push({ where: [end], message: `${what.description} is ${typeName(o, what.typeId)}; a ${name} relation's ${end} must be ${describeAllowed(o, relationType[constraint]!)}` });
    }
  }
  return problems;
}

/** The type a persona gave a world entity (upstream's typeAssignments), or null. */
export function entityTypeFor(entity: { typeAssignments?: Array<{ personaId: string; entityTypeId?: string }> }, personaId: string | null): string | null {
  return entity.typeAssignments?.find((a) => a.personaId === personaId)?.entityTypeId ?? null;
}
