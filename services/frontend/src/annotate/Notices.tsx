/**
 * What the workspace has to tell, in the page's flow between the top bar and the video (so it covers no
 * control): the last message (restored edits, a stale journal), and every open conflict with both values and
 * the choice between them. Choosing only dispatches to the document (`resolve`).
 */
import type { KeyBox } from "../editor/changes";
import type { Conflict } from "../editor/document";
import type { AnnotationObject } from "../editor/changes";
import { useDocVersion, useUi, type Workspace } from "./workspace";

const round = (v: number) => Math.round(v * 10) / 10;

function describeBox(box: KeyBox | null): string {
  if (!box) return "no keyframe";
  return `${box.outside ? "outside, " : ""}x ${round(box.x)}, y ${round(box.y)}, ${round(box.width)}×${round(box.height)}`;
}

function describeTrack(o: AnnotationObject | null): string {
  if (!o) return "deleted";
  if ("frames" in o) return `the track (${o.frames.length} keyframe${o.frames.length === 1 ? "" : "s"})`;
  return "startFrame" in o ? `the event (frames ${o.startFrame}–${o.endFrame})` : "the relation";
}

function labelOf(o: AnnotationObject | null | undefined): string | undefined {
  return o && "label" in o ? o.label : undefined;
}

function describe(c: Conflict, side: "theirs" | "mine"): string {
  if (c.part === "keyframe") return describeBox(c[side]);
  if (c.part === "track") return describeTrack(c[side]);
  const v = c[side];
  return v === null || v === undefined ? "none" : typeof v === "string" ? `“${v}”` : String(v);
}

function where(c: Conflict): string {
  return c.part === "keyframe" ? `keyframe at frame ${c.frame}` : c.part === "field" ? c.field : c.kind;
}

export function Notices({ ws }: { ws: Workspace }) {
  useDocVersion(ws);
  const ui = useUi(ws);
  const conflicts = ws.doc.conflicts();
  // Always there (empty when there is nothing to say): the workspace's grid has a row for it.
  if (!ui.message && conflicts.length === 0) return <div className="notices" data-testid="notices" />;
  const nameOf = (c: Conflict) => labelOf(ws.doc.object(c.kind, c.trackId)) ?? labelOf(ws.doc.serverObject(c.kind, c.trackId))
    ?? (c.part === "track" ? labelOf(c.mine ?? c.theirs) : undefined) ?? c.trackId.slice(0, 8);
  const show = (c: Conflict) => {
    if (ws.doc.get(c.trackId)) ws.ui.set({ selected: c.trackId });
    if (c.part === "keyframe") ws.player.seek(c.frame);
  };
  return (
    <div className="notices" data-testid="notices">
      {ui.message && (
        <div className="notice" data-testid="workspace-message">
          <span>{ui.message}</span>
          <button className="icon" title="Dismiss" onClick={() => ws.ui.set({ message: null })} data-testid="message-close">✕</button>
        </div>
      )}
      {conflicts.length > 0 && (
        <div className="conflicts" data-testid="conflicts" data-count={conflicts.length}>
          <div className="conflicts-head">
            <b>{conflicts.length} change{conflicts.length === 1 ? "" : "s"} of yours met newer work</b>
            <span className="muted"> — nothing of these was saved; the video shows theirs until you choose.</span>
            {conflicts.length > 1 && (
              <>
                <button onClick={() => ws.doc.resolveAll("theirs")} data-testid="conflicts-all-theirs">Keep all theirs</button>
                <button onClick={() => ws.doc.resolveAll("mine")} data-testid="conflicts-all-mine">Use all mine</button>
              </>
            )}
          </div>
          <ul>
            {conflicts.map((c) => (
              <li key={c.key} data-testid="conflict" data-track-id={c.trackId} data-part={c.part}
                data-frame={c.part === "keyframe" ? c.frame : undefined} data-field={c.part === "field" ? c.field : undefined}>
                <button className="link" onClick={() => show(c)} title={c.message}>«{nameOf(c)}» {where(c)}</button>
                {c.refused ? (
                  <>
                    <span className="error-text" data-testid="conflict-refused">{c.message}</span>
                    <span className="muted"> yours was {describe(c, "mine")}</span>
                    <button onClick={() => ws.doc.resolve(c.key, "theirs")} data-testid="conflict-dismiss">Dismiss</button>
                  </>
                ) : (
                  <>
                    <span className="muted">{c.message}:</span>
                    <span data-testid="conflict-theirs">theirs {describe(c, "theirs")}</span>
                    <span data-testid="conflict-mine">mine {describe(c, "mine")}</span>
                    <button onClick={() => ws.doc.resolve(c.key, "theirs")} data-testid="conflict-keep-theirs">Keep theirs</button>
                    <button onClick={() => ws.doc.resolve(c.key, "mine")} data-testid="conflict-use-mine">Use mine</button>
                  </>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
