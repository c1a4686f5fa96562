export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null) return "—";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function formatFps(fps: number | null | undefined, num?: number | null, den?: number | null): string {
  if (num && den) return `${(num / den).toFixed(den === 1 ? 0 : 2)} fps`;
  if (fps == null) return "fps unknown";
  return `${Number.isInteger(fps) ? fps : fps.toFixed(2)} fps`;
}

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A stable colour for a name (types without their own colour), as #rrggbb (what a colour input takes). */
export function colorFor(name: string): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  // HSL(hue, 85%, 58%) to RGB.
  const hue = hash % 360, sat = 0.85, light = 0.58;
  const a = sat * Math.min(light, 1 - light);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    const value = light - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * value).toString(16).padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}
