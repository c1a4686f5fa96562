/**
 * Small editors that commit once the person is done (a text or number field on blur or Enter, a select at once), not
 * on every keystroke: a half-typed value ("1" on the way to "12") is never checked or saved. The caller decides
 * what a commit does (the World page patches the object with the value it was changed from; the workspace runs an
 * editor command, which may refuse it).
 */
import { useState } from "react";

/** `from`: the value the person started from (what they saw when they began typing), for the server's check. */
export type Commit = (to: unknown, from: unknown) => void;

/** Text or a number, committed on blur or Enter; Escape puts the stored value back. */
export function FieldInput({ value, commit, type = "text", placeholder, testId, width, step }: {
  value: string | number | undefined; commit: Commit; type?: "text" | "number" | "datetime-local";
  placeholder?: string; testId?: string; width?: number; step?: string;
}) {
  const shown = value === undefined || value === null ? "" : String(value);
  const [editing, setEditing] = useState<{ text: string; from: unknown } | null>(null);
  const done = () => {
    if (editing === null) return;
    setEditing(null);
    if (editing.text === (editing.from === undefined || editing.from === null ? "" : String(editing.from))) return;
    const text = editing.text;
    if (type === "number") commit(text.trim() === "" ? null : Number(text), editing.from);
    else commit(text, editing.from);
  };
  return (
    <input type={type} value={editing?.text ?? shown} placeholder={placeholder} data-testid={testId} step={step}
      style={width ? { width } : undefined} aria-label={placeholder}
      onChange={(e) => setEditing({ text: e.target.value, from: editing ? editing.from : value })} onBlur={done}
      onKeyDown={(e) => {
        if (e.key === "Enter") (e.target as HTMLInputElement).blur();
        if (e.key === "Escape") setEditing(null);
      }} />
  );
}

export function Choice({ value, options, commit, empty, testId, label }: {
  value: string | undefined; options: Array<{ id: string; name: string }>; commit: Commit; empty?: string; testId?: string; label: string;
}) {
  const known = value === undefined || value === "" || options.some((o) => o.id === value);
  return (
    <select value={value ?? ""} onChange={(e) => commit(e.target.value === "" ? null : e.target.value, value)} data-testid={testId} aria-label={label}>
      {empty !== undefined && <option value="">{empty}</option>}
      {!known && <option value={value}>{value} (unknown)</option>}
      {options.map((o) => <option key={o.id} value={o.id}>{o.name || o.id}</option>)}
    </select>
  );
}

/** An ISO date-time as a datetime-local input when it has no zone (the scene's local time), else as text. */
export function DateTimeInput({ value, commit, testId, label }: { value: string | undefined; commit: Commit; testId?: string; label: string }) {
  const local = !value || /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value);
  return <FieldInput type={local ? "datetime-local" : "text"} step="1" value={value} testId={testId} placeholder={label}
    commit={(to, from) => commit(to === "" ? null : to, from)} />;
}

/** Degrees with their hemisphere, as people read coordinates. */
export function formatCoordinates(latitude: unknown, longitude: unknown): string {
  if (typeof latitude !== "number" || typeof longitude !== "number") return "";
  const lat = `${Math.abs(latitude).toFixed(5)}° ${latitude >= 0 ? "N" : "S"}`;
  const lon = `${Math.abs(longitude).toFixed(5)}° ${longitude >= 0 ? "E" : "W"}`;
  return `${lat}, ${lon}`;
}
