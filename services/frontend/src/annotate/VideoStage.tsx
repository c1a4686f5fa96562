import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { videos } from "../api";
import { mediaErrorText, rememberDecode } from "../videos/playable";
import { fitRect, type Rect } from "../editor/coords";
import type { Box } from "../editor/types";
import { Overlay } from "./Overlay";
import type { TypeIndex } from "./types";
import { useUi, type Workspace } from "./workspace";

/**
 * The video letterboxed into the available space, the overlay exactly on top of the drawn picture. A video this
 * browser cannot show (or a file the backend found no picture in) gets a message instead of a black stage to
 * draw on.
 */
export function VideoStage({ ws, types, onCreate }: { ws: Workspace; types: TypeIndex; onCreate: (box: Box, frame: number) => void }) {
  const ui = useUi(ws);
  const container = useRef<HTMLDivElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const [rect, setRect] = useState<Rect | null>(null);
  const [, setSizeKnown] = useState(ws.size.width > 0);

  useLayoutEffect(() => {
    const el = container.current!;
    const measure = () => {
      if (ws.size.width > 0) setRect(fitRect(ws.size, { width: el.clientWidth, height: el.clientHeight }));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ws]);

  useEffect(() => {
    const v = video.current!;
    ws.player.attach(v);
    const onMeta = () => {
      if (ws.size.width <= 0 && v.videoWidth > 0) {
        ws.size = { width: v.videoWidth, height: v.videoHeight };
        setSizeKnown(true);
        const el = container.current!;
        setRect(fitRect(ws.size, { width: el.clientWidth, height: el.clientHeight }));
      }
    };
    const cannot = (why: string) => {
      rememberDecode(ws.video.id, why);
      if (!ws.ui.get().unplayable) ws.ui.set({ unplayable: `This browser cannot show this video: ${why}. Nothing can be drawn on it.`, drawing: false });
    };
    // data-ready: the current frame's picture is decoded (readyState >= 2), for tests and benchmarks.
    const onData = () => {
      if (v.videoWidth === 0) return cannot(`${ws.video.codec ?? "the"} stream has no picture it can decode`);
      rememberDecode(ws.video.id, null);
      v.setAttribute("data-ready", "true");
    };
    const onError = () => cannot(mediaErrorText(v.error, ws.video.codec));
    v.addEventListener("loadedmetadata", onMeta);
    v.addEventListener("loadeddata", onData);
    v.addEventListener("error", onError);
    if (v.readyState >= 1) onMeta();
    if (v.readyState >= 2) onData();
    if (v.error) onError();
    return () => {
      v.removeEventListener("loadedmetadata", onMeta);
      v.removeEventListener("loadeddata", onData);
      v.removeEventListener("error", onError);
      ws.player.dispose();
    };
  }, [ws]);

  const style = rect ? { left: rect.left, top: rect.top, width: rect.width, height: rect.height } : { inset: 0 };
  return (
    <div className="stage" ref={container} data-testid="stage">
      <video
        ref={video}
        className="stage-video"
        style={style}
        src={videos.streamUrl(ws.video.id)}
        preload="auto"
        muted
        playsInline
        data-testid="video"
      />
      {ui.unplayable ? (
        <div className="stage-problem" data-testid="stage-problem" role="alert">{ui.unplayable}</div>
      ) : rect && ws.size.width > 0 && (
        <div className="stage-overlay" style={style}>
          <Overlay ws={ws} types={types} onCreate={onCreate} />
        </div>
      )}
    </div>
  );
}
