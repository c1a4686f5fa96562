import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, transfer, videos, type ImportPreview } from "../api";
import { errorText } from "../ui/format";

export function TransferPage() {
  const list = useQuery({ queryKey: ["videos"], queryFn: videos.list });
  const [videoId, setVideoId] = useState("");
  const [interpolate, setInterpolate] = useState(false);
  const [file, setFile] = useState<{ name: string; text: string } | null>(null);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [done, setDone] = useState<Record<string, number> | null>(null);
  const [busy, setBusy] = useState(false);

  async function choose(f: File | undefined) {
    setPreview(null); setError(null); setDone(null);
    if (!f) return setFile(null);
    const text = await f.text();
    setFile({ name: f.name, text });
    setBusy(true);
    try { setPreview(await transfer.preview(text)); } catch (e) { setError(e instanceof ApiError ? e : errorText(e)); } finally { setBusy(false); }
  }

  async function confirmImport() {
    if (!file) return;
    setBusy(true); setError(null);
    try { setDone((await transfer.importLines(file.text)).imported); setPreview(null); } catch (e) { setError(e instanceof ApiError ? e : errorText(e)); } finally { setBusy(false); }
  }

  // Conflicts are rows the import replaces (it may be meant: restoring an export); errors refuse the whole file.
  const blocked = !!preview && preview.errors.length > 0;
  return (
    <section>
      <h2>Export</h2>
      <div className="card row">
        <select value={videoId} onChange={(e) => setVideoId(e.target.value)} data-testid="export-video">
          <option value="">all videos</option>
          {list.data?.map((v) => <option key={v.id} value={v.id}>{v.filename}</option>)}
        </select>
        <label><input type="radio" checked={!interpolate} onChange={() => setInterpolate(false)} data-testid="export-keyframes" /> keyframes only</label>
        <label><input type="radio" checked={interpolate} onChange={() => setInterpolate(true)} data-testid="export-interpolated" /> every frame, interpolated</label>
        <a className="button primary" href={transfer.exportUrl({ videoId: videoId || undefined, interpolate })} download="fovea-export.jsonl" data-testid="export-download">Download JSONL</a>
      </div>
      <h2>Import</h2>
      <div className="card">
        <input type="file" accept=".jsonl,.ndjson,application/x-ndjson,application/json" onChange={(e) => {
          // Cleared at once: choosing the same file again, after fixing it in an editor, must check it again.
          const chosen = e.target.files?.[0];
          e.target.value = "";
          void choose(chosen);
        }} data-testid="import-file" />
        {busy && <p className="muted">Checking…</p>}
        {preview && (
          <div data-testid="import-preview">
            <h3>{file?.name} would add</h3>
            <ul className="plain-list">{Object.entries(preview.wouldImport).map(([k, n]) => <li key={k} data-testid="import-count" data-kind={k} data-count={n}>{n} × {k}</li>)}</ul>
            {preview.conflicts.length > 0 && (
              <><h3>Would replace ({preview.conflicts.length})</h3><ul className="plain-list" data-testid="import-conflicts">{preview.conflicts.map((c, i) => <li key={i}>line {c.line}: {c.kind} {c.id}: {c.reason}</li>)}</ul></>
            )}
            {preview.errors.length > 0 && (
              <><h3>Errors</h3><ul className="plain-list error-text" data-testid="import-errors">{preview.errors.map((e, i) => <li key={i}>line {e.line}, field {e.field}: {e.message}</li>)}</ul></>
            )}
            <button className="primary" onClick={confirmImport} disabled={blocked || busy} data-testid="import-confirm">
              {blocked ? "Fix the errors to import" : preview.conflicts.length ? `Import, replacing ${preview.conflicts.length}` : "Import"}
            </button>
          </div>
        )}
        {error && (
          <div className="error-box" data-testid="import-error">
            {typeof error === "string" ? error : error.detail.length ? error.detail.map((d, i) => <div key={i}>{(d.loc ?? []).join(" › ")}: {d.msg}</div>) : error.message}
          </div>
        )}
        {done && <p data-testid="import-done">Imported: {Object.entries(done).map(([k, n]) => `${n} ${k}`).join(", ") || "nothing new"}</p>}
      </div>
    </section>
  );
}
