import { useState, type FormEvent } from "react";
import { adjacentKeyframe } from "../editor/keyframes";
import { formatTime, fpsValue, startTimeOfFrame } from "../editor/time";
import { useDocVersion, usePlayer, useUi, type Workspace } from "./workspace";

const RATES = [0.25, 0.5, 1, 1.5, 2, 4];

/** Transport controls and the frame counter: the only parts besides the overlay that follow each frame. */
export function Controls({ ws }: { ws: Workspace }) {
  const { frame, playing, rate } = usePlayer(ws);
  const p = ws.player;
  const [goto, setGoto] = useState("");
  const last = p.frameCount ? p.frameCount - 1 : null;

  function submitGoto(e: FormEvent) {
    e.preventDefault();
    const n = Number(goto);
    if (goto.trim() !== "" && Number.isFinite(n)) p.seek(n);
    setGoto("");
    // Back to the shortcuts: arrow keys step frames again, not the caret.
    (document.activeElement as HTMLElement | null)?.blur();
  }

  function keyframeJump(direction: 1 | -1) {
    const sel = ws.ui.get().selected;
    const tracks = sel && ws.doc.get(sel) ? [ws.doc.get(sel)!] : ws.doc.list();
    const target = adjacentKeyframe(tracks, p.frame, direction);
    if (target !== null) p.seek(target);
  }

  return (
    <div className="controls">
      <button onClick={() => keyframeJump(-1)} title="Previous keyframe" data-testid="btn-prev-keyframe">◆‹</button>
      <button onClick={() => p.step(-10)} title="Back 10 frames (Shift+←)" data-testid="btn-back10">−10</button>
      <button onClick={() => p.step(-1)} title="Previous frame (←)" data-testid="btn-back1">−1</button>
      <button onClick={() => p.toggle()} title="Play / pause (Space)" data-testid="btn-play" className="play">
        {playing ? "❚❚" : "▶"}
      </button>
      <button onClick={() => p.step(1)} title="Next frame (→)" data-testid="btn-fwd1">+1</button>
      <button onClick={() => p.step(10)} title="Forward 10 frames (Shift+→)" data-testid="btn-fwd10">+10</button>
      <button onClick={() => keyframeJump(1)} title="Next keyframe" data-testid="btn-next-keyframe">›◆</button>
      <span className="counter" data-testid="frame-counter" data-frame={frame}>
        frame <b>{frame}</b>{last !== null ? ` / ${last}` : ""}
      </span>
      <span className="counter muted" data-testid="time-display">
        {formatTime(startTimeOfFrame(frame, p.rate))} · {fpsValue(p.rate).toFixed(3)} fps
      </span>
      <form onSubmit={submitGoto} className="goto">
        <input value={goto} onChange={(e) => setGoto(e.target.value)} placeholder="go to frame" inputMode="numeric" data-testid="goto-frame" aria-label="go to frame" />
      </form>
      <select value={rate} onChange={(e) => p.setRate(Number(e.target.value))} data-testid="playback-rate" aria-label="playback rate">
        {RATES.map((r) => <option key={r} value={r}>{r}×</option>)}
      </select>
    </div>
  );
}

/** Edit commands: draw, keyframe, outside, delete, undo, redo, save. */
export function EditTools({ ws, onNew }: { ws: Workspace; onNew: () => void }) {
  useDocVersion(ws);
  const ui = useUi(ws);
  const { frame } = usePlayer(ws);
  const sel = ui.selected;
  return (
    <div className="edit-tools">
      <button className={ui.drawing ? "active" : ""} onClick={onNew} title="New box (N)" data-testid="btn-draw">▭ New box</button>
      <button disabled={!sel} onClick={() => sel && ws.doc.toggleKeyframe(sel, frame)} title="Toggle keyframe (K)" data-testid="btn-keyframe">◆ Keyframe</button>
      <button disabled={!sel} onClick={() => sel && ws.doc.toggleOutside(sel, frame)} title="Toggle outside (O)" data-testid="btn-outside">⊘ Outside</button>
      <button disabled={!sel} onClick={() => { if (sel) { ws.doc.deleteTracks([sel]); ws.ui.set({ selected: null }); } }} title="Delete track (Del)" data-testid="btn-delete">✕ Delete</button>
      <button disabled={!ws.doc.canUndo()} onClick={() => ws.doc.undo()} title="Undo (Ctrl+Z)" data-testid="btn-undo">↶ Undo</button>
      <button disabled={!ws.doc.canRedo()} onClick={() => ws.doc.redo()} title="Redo (Ctrl+Shift+Z)" data-testid="btn-redo">↷ Redo</button>
    </div>
  );
}
