/** Every shortcut the `?` overlay lists does what it says, on a real document (the player and the save are
 * recorders: they are the browser's part, exercised by the e2e test). */
import { describe, expect, test } from "vitest";
import { AnnotationDocument } from "../editor/document";
import type { Track } from "../editor/types";
import { handleShortcut, SHORTCUTS } from "./shortcuts";
import type { Workspace } from "./workspace";

function setup() {
  const track: Track = { id: "a", type: "t", label: "a", personaId: null, source: "manual", confidence: null, jobId: null,
    frames: [{ frame: 0, x: 0, y: 0, width: 10, height: 10 }] };
  const calls: string[] = [];
  let ui = { selected: "a" as string | null, hidden: new Set<string>(), drawing: false, help: false, message: null };
  const player = { frame: 5, toggle: () => calls.push("toggle"), step: (d: number) => calls.push(`step ${d}`) };
  const doc = new AnnotationDocument([track]);
  const ws = {
    player, doc,
    ui: { get: () => ui, set: (patch: Partial<typeof ui>) => { ui = { ...ui, ...patch }; } },
    autosave: { saveNow: async () => { calls.push("save"); } },
  } as unknown as Workspace;
  const press = (key: string, mods: { shift?: boolean; ctrl?: boolean } = {}, tagName = "BODY") => {
    let prevented = false;
    const event = {
      key, shiftKey: !!mods.shift, ctrlKey: !!mods.ctrl, metaKey: false,
      target: { tagName, isContentEditable: false, blur: () => {} },
      preventDefault: () => { prevented = true; },
    } as unknown as KeyboardEvent;
    const handled = handleShortcut(ws, event, { newBox: () => calls.push("new box") });
    return { handled, prevented };
  };
  return { ws, doc, calls, press, ui: () => ui };
}

describe("shortcuts", () => {
  test("Space, arrows and Shift+arrows drive the player", () => {
    const { calls, press } = setup();
    press(" ");
    press("ArrowRight");
    press("ArrowLeft");
    press("ArrowRight", { shift: true });
    press("ArrowLeft", { shift: true });
    expect(calls).toEqual(["toggle", "step 1", "step -1", "step 10", "step -10"]);
  });

  test("K and O edit the selected track at the current frame, Ctrl+Z / Ctrl+Shift+Z undo and redo", () => {
    const { doc, press } = setup();
    press("k");
    expect(doc.get("a")!.frames.map((f) => f.frame)).toEqual([0, 5]);
    press("O", { shift: true });
    expect(doc.get("a")!.frames[1].outside).toBe(true);
    press("z", { ctrl: true });
    expect(doc.get("a")!.frames[1].outside).toBeFalsy();
    press("Z", { ctrl: true, shift: true });
    expect(doc.get("a")!.frames[1].outside).toBe(true);
    press("y", { ctrl: true });
    expect(doc.canRedo()).toBe(false);
  });

  test("Del deletes the selection, N starts a box, Ctrl+S saves, ? and Esc open and close the help", () => {
    const { doc, calls, press, ui } = setup();
    expect(press("s", { ctrl: true }).prevented).toBe(true);
    press("n");
    press("?");
    expect(ui().help).toBe(true);
    press("Escape");
    expect(ui().help).toBe(false);
    press("Escape");
    expect(ui().selected).toBeNull();
    press("Delete"); // nothing selected any more: nothing happens
    expect(doc.get("a")).toBeDefined();
    ui().selected = "a";
    press("Delete");
    expect(doc.get("a")).toBeUndefined();
    expect(calls).toEqual(["save", "new box"]);
  });

  test("typing in a field is not a shortcut, but Esc still is", () => {
    const { calls, press } = setup();
    expect(press(" ", {}, "INPUT").handled).toBe(false);
    expect(press("k", {}, "TEXTAREA").handled).toBe(false);
    expect(press("z", { ctrl: true }, "INPUT").handled).toBe(false);
    expect(press("Escape", {}, "INPUT").handled).toBe(true);
    expect(calls).toEqual([]);
  });

  test("the help lists every shortcut the issue names", () => {
    const keys = SHORTCUTS.map((s) => s.keys).join(" | ");
    for (const k of ["Space", "←", "Shift+←", "K", "O", "Del", "N", "Esc", "Ctrl+S", "Ctrl+Z", "Ctrl+Shift+Z", "?"]) {
      expect(keys).toContain(k);
    }
  });
});
