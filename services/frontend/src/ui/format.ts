export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null) return "—";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function formatFps(fps: number | null | undefined, num?: number | null, den?: number | null): string {
  if (num && den) return `${(num / den).toFixed(den === 1 ? 0 : 2)} fps`;
  if (fps == null) return "fps ?";
  return `${Number.isInteger(fps) ? fps : fps.toFixed(2)} fps`;
}

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A stable colour for a name (types without their own colour). */
export function colorFor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 85% 58%)`;
}
