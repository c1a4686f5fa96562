import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, personas, transfer, videos, type FormatImportResult, type ImportPreview, type StandardFormat } from "../api";
import { errorText } from "../ui/format";
import { abilities } from "../auth/roles";
import { useMe } from "../auth/session";

export function TransferPage() {
  const list = useQuery({ queryKey: ["videos"], queryFn: videos.list });
  const [videoId, setVideoId] = useState("");
  const [interpolate, setInterpolate] = useState(false);
  const [acceptedOnly, setAcceptedOnly] = useState(false);
  const can = abilities(useMe().data);
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
      <StandardFormats videoIds={list.data?.map((v) => ({ id: v.id, name: v.filename })) ?? []} />
      <h2>Export</h2>
      <div className="card row">
        <select value={videoId} onChange={(e) => setVideoId(e.target.value)} data-testid="export-video">
          <option value="">all videos</option>
          {list.data?.map((v) => <option key={v.id} value={v.id}>{v.filename}</option>)}
        </select>
        <label><input type="radio" checked={!interpolate} onChange={() => setInterpolate(false)} data-testid="export-keyframes" /> keyframes only</label>
        <label><input type="radio" checked={interpolate} onChange={() => setInterpolate(true)} data-testid="export-interpolated" /> every frame, interpolated</label>
        <label title="only videos whose assignments are all accepted"><input type="checkbox" checked={acceptedOnly} onChange={(e) => setAcceptedOnly(e.target.checked)} data-testid="export-accepted-only" /> accepted work only</label>
        <a className="button primary" href={transfer.exportUrl({ videoId: videoId || undefined, interpolate, acceptedOnly })} download="fovea-export.jsonl" data-testid="export-download">Download JSONL</a>
      </div>
      {can.annotate && <>
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
            <ul className="plain-list">
              {Object.entries(preview.wouldAdd).map(([k, n]) => <li key={k} data-testid="import-count" data-kind={k} data-count={n}>{n} × {k}</li>)}
              {Object.keys(preview.wouldAdd).length === 0 && <li className="muted" data-testid="import-nothing-new">nothing new</li>}
            </ul>
            {preview.conflicts.length > 0 && (
              <><h3>Would replace ({preview.conflictCount}{preview.conflictCount > preview.conflicts.length ? `, the first ${preview.conflicts.length} listed` : ""})</h3><ul className="plain-list" data-testid="import-conflicts">{preview.conflicts.map((c, i) => <li key={i}>line {c.line}: {c.kind} {c.id}: {c.reason}</li>)}</ul></>
            )}
            {preview.errors.length > 0 && (
              <><h3>Errors ({preview.errorCount}{preview.errorCount > preview.errors.length ? `, the first ${preview.errors.length} listed` : ""})</h3><ul className="plain-list error-text" data-testid="import-errors">{preview.errors.map((e, i) => <li key={i}>line {e.line}, field {e.field}: {e.message}</li>)}</ul></>
            )}
            <button className="primary" onClick={confirmImport} disabled={blocked || busy} data-testid="import-confirm">
              {blocked ? "Fix the errors to import" : preview.conflictCount ? `Import, replacing ${preview.conflictCount}` : "Import"}
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
      </>}
    </section>
  );
}

const FORMAT_NAMES: Record<StandardFormat, string> = { mot: "MOT gt.txt", coco: "COCO JSON", yolo: "YOLO (zip)", cvat: "CVAT for video 1.1 XML" };

/** Standard formats: a video's accepted tracks (or every video's) out; CVAT video XML or MOT gt.txt into a persona. */
function StandardFormats({ videoIds }: { videoIds: Array<{ id: string; name: string }> }) {
  const people = useQuery({ queryKey: ["personas"], queryFn: personas.list });
  const [videoId, setVideoId] = useState("");
  const [personaId, setPersonaId] = useState("");
  const [format, setFormat] = useState<"cvat" | "mot">("cvat");
  const [file, setFile] = useState<string | null>(null);
  const [report, setReport] = useState<FormatImportResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const persona = personaId || people.data?.[0]?.id || "";

  async function check(text: string, dryRun: boolean) {
    setError(null);
    try { setReport(await transfer.importFormat(videoId, format, persona, text, dryRun)); } catch (e) { setError(errorText(e)); }
  }

  return (
    <>
      <h2>Standard formats</h2>
      <div className="card" data-testid="formats">
        <div className="row">
          <label className="check">video
            <select value={videoId} onChange={(e) => setVideoId(e.target.value)} data-testid="formats-video">
              <option value="">all videos</option>
              {videoIds.map((v) => <option key={v.id} value={v.id}>{v.name}</option>)}
            </select>
          </label>
          <label className="check">persona
            <select value={persona} onChange={(e) => setPersonaId(e.target.value)} data-testid="formats-persona">
              {(people.data ?? []).map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
          </label>
        </div>
        <div className="row">
          <span className="muted">download</span>
          {(Object.keys(FORMAT_NAMES) as StandardFormat[]).map((f) => (
            <a key={f} className="button" href={transfer.formatUrl(f, { videoId: videoId || undefined, personaId: persona || undefined })}
              download data-testid={`formats-export-${f}`}>{FORMAT_NAMES[f]}</a>
          ))}
        </div>
        <p className="muted">Exports hold the accepted work: every track but unaccepted detector candidates, of this persona.</p>
        <div className="row">
          <span className="muted">import into {videoIds.find((v) => v.id === videoId)?.name ?? "the chosen video"}, as this persona's tracks</span>
          <select value={format} onChange={(e) => setFormat(e.target.value as "cvat" | "mot")} data-testid="formats-import-format">
            <option value="cvat">CVAT for video 1.1 XML</option>
            <option value="mot">MOT gt.txt</option>
          </select>
          <input type="file" disabled={!videoId} data-testid="formats-import-file" onChange={async (e) => {
            const chosen = e.target.files?.[0];
            e.target.value = "";
            setReport(null);
            if (!chosen) return;
            const text = await chosen.text();
            setFile(text);
            await check(text, true);
          }} />
          {!videoId && <span className="muted">(choose a video above first)</span>}
        </div>
        {report && (
          <div data-testid="formats-report" data-dry-run={report.dryRun}>
            {report.errors.map((e, i) => <div key={i} className="error-text" data-testid="formats-error">line {e.line}, {e.field}: {e.message}</div>)}
            {report.errors.length === 0 && (
              <p data-testid="formats-summary">{report.dryRun ? "Would import" : "Imported"} {report.wouldImport.annotation ?? 0} track(s)
                {report.wouldReplace.annotation ? `, replacing ${report.wouldReplace.annotation} of an earlier import` : ""}
                {report.typesAdded.length ? `; new in the persona's ontology: ${report.typesAdded.join(", ")}` : ""}
                {report.notes.length ? `. ${report.notes.join(". ")}` : ""}</p>
            )}
            {report.dryRun && report.errors.length === 0 && file && (
              <button className="primary" onClick={() => check(file, false)} data-testid="formats-import-confirm">Import</button>
            )}
          </div>
        )}
        {error && <div className="error-box" data-testid="formats-import-error">{error}</div>}
      </div>
    </>
  );
}
