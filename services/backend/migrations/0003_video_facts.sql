-- Video facts the annotation workspace needs to map frames to time exactly: the frame rate as a rational
-- (30000/1001, not 29.97), the frame count and the codec, next to the existing duration/fps/width/height.
-- Filled at sync time from the `.info.json` sidecar when it gives them, else from ffprobe.
-- probe_key (size:mtime_ns of the file when it was probed) and probe (what ffprobe found, {} when it found
-- nothing) let a sync skip ffprobe for files that did not change; NULL probe_key means "never probed"
-- (e.g. ffprobe was unavailable), so the next sync tries again.

ALTER TABLE videos
    ADD COLUMN fps_num     integer,
    ADD COLUMN fps_den     integer,
    ADD COLUMN frame_count bigint,
    ADD COLUMN codec       text,
    ADD COLUMN probe_key   text,
    ADD COLUMN probe       jsonb,
    ADD CONSTRAINT videos_fps_rational CHECK ((fps_num IS NULL) = (fps_den IS NULL) AND fps_num > 0 AND fps_den > 0),
    ADD CONSTRAINT videos_frame_count_positive CHECK (frame_count > 0);

-- GET /api/jobs?videoId=...: newest first, per video or over all jobs.
CREATE INDEX jobs_video_created ON jobs (video_id, created_at DESC);
CREATE INDEX jobs_created ON jobs (created_at DESC);
