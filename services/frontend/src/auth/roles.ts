import { ROLES, type Role, type User } from "../api/types";

/** Whether `role` may do what `needed` may (roles are ordered; the backend's table is fovea_backend/roles.py). */
export function roleIncludes(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** What the signed-in user may do, for hiding what they cannot (the backend refuses it anyway). */
export function abilities(me: User | null | undefined) {
  const role: Role = me?.role ?? "viewer";
  return {
    annotate: roleIncludes(role, "annotator"),
    review: roleIncludes(role, "reviewer"),
    admin: roleIncludes(role, "admin"),
  };
}
