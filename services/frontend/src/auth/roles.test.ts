import { describe, expect, it } from "vitest";
import { abilities, roleIncludes } from "./roles";

describe("roles", () => {
  it("orders viewer < annotator < reviewer < admin", () => {
    expect(roleIncludes("admin", "viewer")).toBe(true);
    expect(roleIncludes("reviewer", "annotator")).toBe(true);
    expect(roleIncludes("annotator", "reviewer")).toBe(false);
    expect(roleIncludes("viewer", "annotator")).toBe(false);
  });
  it("gives a signed-out or unknown user nothing but reading", () => {
    expect(abilities(null)).toEqual({ annotate: false, review: false, admin: false });
    expect(abilities({ id: "1", username: "a", isAdmin: false, role: "annotator", mustChangePassword: false }))
      .toEqual({ annotate: true, review: false, admin: false });
  });
});
