import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { transcripts, type Video } from "../api";
import { formatTime, frameAtTime, frameRate } from "../editor/time";
import { errorText } from "../ui/format";

/** Search over what was said in every transcribed video; each hit opens the workspace at the frame it was said. */
export function SaidSearch({ videos }: { videos: Video[] }) {
  const [draft, setDraft] = useState("");
  const [asked, setAsked] = useState("");
  const hits = useQuery({ queryKey: ["said", asked], queryFn: () => transcripts.search(asked), enabled: asked !== "" });
  const byId = new Map(videos.map((v) => [v.id, v]));

  function submit(event: FormEvent) {
    event.preventDefault();
    setAsked(draft.trim());
  }

  return (
    <div className="said-search" data-testid="said-search">
      <form onSubmit={submit}>
        <input placeholder="Search what was said" value={draft} onChange={(e) => setDraft(e.target.value)}
               maxLength={2000} data-testid="said-search-input" />
        <button type="submit" disabled={!draft.trim()} data-testid="said-search-submit">Search</button>
      </form>
      {hits.isError && <p className="error-text" data-testid="said-search-error">{errorText(hits.error)}</p>}
      {hits.data && hits.data.length === 0 && <p className="muted" data-testid="said-search-none">Nobody said “{asked}” in a transcribed video.</p>}
      {hits.data && hits.data.length > 0 && (
        <ul className="said-hits">
          {hits.data.map((hit) => {
            const video = byId.get(hit.videoId);
            const frame = video ? frameAtTime(hit.start, frameRate(video.fpsNum, video.fpsDen, video.fps), video.frameCount) : 0;
            return (
              <li key={`${hit.videoId}-${hit.start}`} data-testid="said-hit" data-video-id={hit.videoId} data-frame={frame}>
                <Link to={`/videos/${hit.videoId}?frame=${frame}`} title={`open ${hit.filename} at ${formatTime(hit.start)}`}>
                  {hit.filename} · {formatTime(hit.start)}
                </Link>{" "}
                <span className="muted">“{hit.text.trim()}”</span>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
