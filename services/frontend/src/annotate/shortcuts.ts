/** The workspace's keyboard shortcuts: one table, read by the key handler and by the `?` overlay. */
import type { Workspace } from "./workspace";

export interface Shortcut {
  keys: string;
  does: string;
  matches: (e: KeyboardEvent) => boolean;
  run: (ws: Workspace, e: KeyboardEvent, actions: Actions) => void;
}

export interface Actions {
  newBox: () => void;
  /** Show the events panel (E). */
  markEvent?: () => void;
}

/** A refusal from the document (a locked track, an overlap) goes to the workspace's message line. */
function tell(ws: Workspace, result: { ok: true } | { ok: false; problem: { message: string } }): void {
  if (!result.ok) ws.ui.set({ message: result.problem.message });
}

const ctrl = (e: KeyboardEvent) => e.ctrlKey || e.metaKey;
const key = (e: KeyboardEvent) => e.key.toLowerCase();
const selected = (ws: Workspace) => ws.ui.get().selected;

export const SHORTCUTS: Shortcut[] = [
  { keys: "Space", does: "play / pause", matches: (e) => e.key === " " && !ctrl(e), run: (ws) => ws.player.toggle() },
  { keys: "← / →", does: "previous / next frame", matches: (e) => (e.key === "ArrowLeft" || e.key === "ArrowRight") && !e.shiftKey && !ctrl(e),
    run: (ws, e) => ws.player.step(e.key === "ArrowLeft" ? -1 : 1) },
  { keys: "Shift+← / →", does: "10 frames back / forward", matches: (e) => (e.key === "ArrowLeft" || e.key === "ArrowRight") && e.shiftKey && !ctrl(e),
    run: (ws, e) => ws.player.step(e.key === "ArrowLeft" ? -10 : 10) },
  { keys: "K", does: "keyframe here on / off (selected track)", matches: (e) => key(e) === "k" && !ctrl(e),
    run: (ws) => { const s = selected(ws); if (s) ws.doc.toggleKeyframe(s, ws.player.frame); } },
  { keys: "O", does: "outside from here / back inside (selected track)", matches: (e) => key(e) === "o" && !ctrl(e),
    run: (ws) => { const s = selected(ws); if (s) ws.doc.toggleOutside(s, ws.player.frame); } },
  { keys: "Del", does: "delete the selected track", matches: (e) => (e.key === "Delete" || e.key === "Backspace") && !ctrl(e),
    run: (ws) => { const s = selected(ws); if (s) { ws.doc.deleteTracks([s]); ws.ui.set({ selected: null }); } } },
  { keys: "N", does: "new box: drag on the video", matches: (e) => key(e) === "n" && !ctrl(e), run: (_ws, _e, a) => a.newBox() },
  { keys: "X", does: "split the selected track (or event) at this frame", matches: (e) => key(e) === "x" && !ctrl(e),
    run: (ws) => {
      const { selected: s, selectedEvent } = ws.ui.get();
      if (s) tell(ws, ws.doc.splitTrack(s, ws.player.frame, crypto.randomUUID()));
      else if (selectedEvent) tell(ws, ws.doc.splitEvent(selectedEvent, ws.player.frame, crypto.randomUUID()));
    } },
  { keys: "M", does: "merge the selected track with the next one picked", matches: (e) => key(e) === "m" && !ctrl(e),
    run: (ws) => {
      const s = selected(ws);
      if (s) ws.ui.set({ merging: s, message: "Pick the track to merge with (Esc cancels)" });
    } },
  { keys: "C", does: "copy the previous keyframe's box to this frame", matches: (e) => key(e) === "c" && !ctrl(e),
    run: (ws) => { const s = selected(ws); if (s) tell(ws, ws.doc.copyPreviousBox(s, ws.player.frame)); } },
  { keys: "L", does: "lock / unlock the selected track", matches: (e) => key(e) === "l" && !ctrl(e),
    run: (ws) => { const s = selected(ws); if (s) tell(ws, ws.doc.setLocked(s, !ws.doc.get(s)?.locked)); } },
  { keys: "H", does: "hide / show the selected track (kept for you)", matches: (e) => key(e) === "h" && !ctrl(e),
    run: (ws) => { const s = selected(ws); if (s) ws.toggleHidden(s); } },
  { keys: "E", does: "the events tab: mark an event from here, fill its roles", matches: (e) => key(e) === "e" && !ctrl(e), run: (_ws, _e, a) => a.markEvent?.() },
  { keys: "Esc", does: "cancel drawing, deselect, close this help", matches: (e) => e.key === "Escape",
    run: (ws) => {
      const ui = ws.ui.get();
      ws.ui.set(ui.help ? { help: false } : ui.drawing ? { drawing: false } : ui.merging ? { merging: null, message: null } : { selected: null, selectedEvent: null });
    } },
  { keys: "Ctrl+S", does: "save now", matches: (e) => ctrl(e) && key(e) === "s", run: (ws) => void ws.autosave.saveNow() },
  { keys: "Ctrl+Z", does: "undo", matches: (e) => ctrl(e) && key(e) === "z" && !e.shiftKey, run: (ws) => ws.doc.undo() },
  { keys: "Ctrl+Shift+Z", does: "redo (also Ctrl+Y)", matches: (e) => ctrl(e) && ((key(e) === "z" && e.shiftKey) || key(e) === "y"), run: (ws) => ws.doc.redo() },
  { keys: "?", does: "this help", matches: (e) => e.key === "?", run: (ws) => ws.ui.set({ help: !ws.ui.get().help }) },
];

/** Typing in a field is not a shortcut (but Esc and Ctrl+S/Z still are). */
function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  const tag = t.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || t.isContentEditable;
}

export function handleShortcut(ws: Workspace, e: KeyboardEvent, actions: Actions): boolean {
  if (typing(e) && !(e.key === "Escape" || ctrl(e))) return false;
  if (typing(e) && ctrl(e) && key(e) === "z") return false; // the field's own undo
  const shortcut = SHORTCUTS.find((s) => s.matches(e));
  if (!shortcut) return false;
  e.preventDefault();
  // A button keeps focus after a click; Space/Enter would otherwise press it again on key up.
  if ((e.target as HTMLElement | null)?.tagName === "BUTTON") (e.target as HTMLElement).blur();
  shortcut.run(ws, e, actions);
  return true;
}
