-- Transcripts (issue 20, item 4): speech to text with word times, one per video, written by the job sync from a
-- finished 'transcribe' job (the latest finished run replaces the one before). `status` says whether speech was
-- found: 'no_audio' (the file has no audio stream) and 'no_speech' (only silence or noise) are results, not
-- failures. `segments` holds [{start, end, text, words: [{start, end, word, probability}]}], seconds on the
-- video's own timeline. `job_id` has no foreign key, like video_summaries': an imported transcript keeps its
-- job's id after the job rows are gone.

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('detect', 'track', 'summarize', 'augment', 'detect-types', 'track-box', 'transcribe'));

CREATE TABLE video_transcripts (
    video_id    text PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    job_id      uuid,
    model       text NOT NULL,
    language    text,
    status      text NOT NULL CHECK (status IN ('ok', 'no_audio', 'no_speech')),
    duration_s  double precision NOT NULL DEFAULT 0 CHECK (duration_s >= 0),
    text        text NOT NULL DEFAULT '',
    segments    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(segments) = 'array'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Free-text search over what was said (GET /api/videos?text=, and the summaries' ?text= search).
CREATE INDEX video_transcripts_text_search ON video_transcripts USING gin (to_tsvector('english', text));
