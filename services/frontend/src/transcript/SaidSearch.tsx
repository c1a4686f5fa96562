import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { transcripts, type Video } from "../api";
import { formatTime, frameAtTime, frameRate } from "../editor/time";
import { errorText } from "../ui/format";

/** Search over what was said (transcripts) and shown (text read in frame) in every video; each hit opens the workspace
 * at the frame it was said or first shown. */
export function SaidSearch({ videos }: { videos: Video[] }) {
  const [draft, setDraft] = useState("");
  const [asked, setAsked] = useState("");
  const hits = useQuery({ queryKey: ["said", asked], queryFn: () => transcripts.searchSaidOrShown(asked), enabled: asked !== "" });
  const byId = new Map(videos.map((v) => [v.id, v]));

  function submit(event: FormEvent) {
    event.preventDefault();
    setAsked(draft.trim());
  }

  return (
    <div className="said-search" data-testid="said-search">
      <form onSubmit={submit}>
        <input placeholder="Search what was said or shown" value={draft} onChange={(e) => setDraft(e.target.value)}
               maxLength={2000} data-testid="said-search-input" />
        <button type="submit" disabled={!draft.trim()} data-testid="said-search-submit">Search</button>
      </form>
      {hits.isError && <p className="error-text" data-testid="said-search-error">{errorText(hits.error)}</p>}
      {hits.data && hits.data.length === 0 && <p className="muted" data-testid="said-search-none">Nothing said or shown matches “{asked}”.</p>}
      {hits.data && hits.data.length > 0 && (
        <ul className="said-hits">
          {hits.data.map((hit) => {
            const video = byId.get(hit.videoId);
            const frame = video ? frameAtTime(hit.start, frameRate(video.fpsNum, video.fpsDen, video.fps), video.frameCount) : 0;
            return (
              <li key={`${hit.source}-${hit.videoId}-${hit.annotationId ?? hit.start}`} data-testid="said-hit"
                  data-video-id={hit.videoId} data-frame={frame} data-source={hit.source}>
                <Link to={`/videos/${hit.videoId}?frame=${frame}`} title={`open ${hit.filename} at ${formatTime(hit.start)}`}>
                  {hit.filename} · {formatTime(hit.start)}
                </Link>{" "}
                <span className="hit-source">{hit.source === "screen" ? "on screen" : "said"}</span>{" "}
                <span className="muted">“{hit.text.trim()}”</span>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
