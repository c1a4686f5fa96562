import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { videos, type Video } from "../api";
import { abilities } from "../auth/roles";
import { useMe } from "../auth/session";
import { errorText, formatDuration, formatFps } from "../ui/format";
import { SaidSearch } from "../transcript/SaidSearch";
import { playProblem } from "./playable";

export function VideosPage() {
  const list = useQuery({ queryKey: ["videos"], queryFn: videos.list });
  const can = abilities(useMe().data);
  const queryClient = useQueryClient();
  const [filter, setFilter] = useState("");
  const sync = useMutation({
    mutationFn: videos.sync,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["videos"] }),
  });
  const shown = (list.data ?? []).filter((v) => v.filename.toLowerCase().includes(filter.trim().toLowerCase()));

  return (
    <section>
      <div className="page-head">
        <h2>Videos</h2>
        <input className="filter" placeholder="Filter by name" value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="video-filter" />
        {can.admin && (
          <button onClick={() => sync.mutate()} disabled={sync.isPending} data-testid="video-sync">
            {sync.isPending ? "Syncing…" : "Sync"}
          </button>
        )}
        {sync.data && (
          <span className="muted" data-testid="sync-result">
            {sync.data.added.length} added, {sync.data.updated.length} updated, {sync.data.unchanged} unchanged
            {sync.data.missing.length ? `, ${sync.data.missing.length} missing` : ""}
          </span>
        )}
        {sync.error && <span className="error-text">{errorText(sync.error)}</span>}
      </div>
      {list.isPending && <p className="muted">Loading…</p>}
      {list.error && <div className="error-box">{errorText(list.error)}</div>}
      {list.data && list.data.length === 0 && (
        <div className="empty" data-testid="videos-empty">
          <p>No videos yet.</p>
          <p>Add one from the machine that runs the stack, then press Sync:</p>
          <pre>fovea videos add FILE</pre>
        </div>
      )}
      {list.data && list.data.length > 0 && <SaidSearch videos={list.data} />}
      {list.data && list.data.length > 0 && shown.length === 0 && <p className="muted">No video matches “{filter}”.</p>}
      <div className="video-grid" data-testid="video-grid">
        {shown.map((v) => (
          <VideoCard key={v.id} video={v} />
        ))}
      </div>
    </section>
  );
}

function VideoCard({ video }: { video: Video }) {
  const [thumbFailed, setThumbFailed] = useState(false);
  const me = useMe();
  const queryClient = useQueryClient();
  const problem = playProblem(video);
  const remove = useMutation({
    mutationFn: () => videos.remove(video.id, (video.annotationCount ?? 0) > 0),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["videos"] }),
  });
  function confirmRemove(e: React.MouseEvent) {
    e.preventDefault();
    e.stopPropagation();
    const tracks = video.annotationCount ?? 0;
    const question = `Remove ${video.filename}? Its file is deleted from the video directory.` +
      (tracks ? ` Its ${tracks} track(s) are deleted with it: export them first if they are needed.` : "");
    if (window.confirm(question)) remove.mutate();
  }
  return (
    <Link to={`/videos/${video.id}`} className={`video-card${problem ? " video-card-problem" : ""}`} data-testid="video-card" data-video-id={video.id}>
      <div className="thumb">
        {thumbFailed ? <span className="muted">no preview</span> : (
          <img src={videos.thumbnailUrl(video.id)} alt="" loading="lazy" onError={() => setThumbFailed(true)} />
        )}
      </div>
      <div className="video-name" data-testid="video-name" title={video.filename}>{video.filename}</div>
      <div className="video-facts">
        <span data-testid="video-duration">{formatDuration(video.duration)}</span>
        <span data-testid="video-resolution">{video.width && video.height ? `${video.width}×${video.height}` : "size unknown"}</span>
        <span data-testid="video-fps">{formatFps(video.fps, video.fpsNum, video.fpsDen)}</span>
        <span data-testid="video-annotations">{video.annotationCount ?? 0} tracks</span>
        {video.codec && <span data-testid="video-codec">{video.codec}</span>}
      </div>
      {problem && <div className="video-problem" data-testid="video-problem" title={problem}>⚠ {problem}</div>}
      {me.data?.isAdmin && (
        <div className="video-admin">
          <button className="danger" onClick={confirmRemove} disabled={remove.isPending} data-testid="video-remove">
            {remove.isPending ? "Removing…" : "Remove"}
          </button>
          {remove.error && <span className="error-text" data-testid="video-remove-error">{errorText(remove.error)}</span>}
        </div>
      )}
    </Link>
  );
}
