/**
 * The limits the server holds a track's fields to (services/backend/fovea_backend/schemas.py, AnnotationBody),
 * checked in the editor before an edit is made, so a bad value is refused at its field with a message instead of
 * reaching a save (where it would be refused there, apart from the other changes).
 */
import type { Track } from "./types";

export const LABEL_MAX = 500;
export const TYPE_MAX = 64;

export interface FieldProblem {
  field: "label" | "type" | "confidence";
  message: string;
}

function text(field: "label" | "type", value: string, max: number): FieldProblem | null {
  if (value.trim() === "") return { field, message: `the ${field} must not be empty` };
  // The server counts code points (Python's len), not UTF-16 units.
  const length = [...value].length;
  if (length > max) return { field, message: `the ${field} is ${length} characters long; at most ${max} are kept` };
  if (value.includes("\u0000")) return { field, message: `the ${field} must not contain NUL characters` };
  return null;
}

export function checkTrackPatch(patch: Partial<Pick<Track, "label" | "type" | "confidence">>): FieldProblem | null {
  if (patch.label !== undefined) {
    const problem = text("label", patch.label, LABEL_MAX);
    if (problem) return problem;
  }
  if (patch.type !== undefined) {
    const problem = text("type", patch.type, TYPE_MAX);
    if (problem) return problem;
  }
  if (patch.confidence !== undefined && patch.confidence !== null && !(patch.confidence >= 0 && patch.confidence <= 1)) {
    return { field: "confidence", message: "the confidence must be between 0 and 1" };
  }
  return null;
}
