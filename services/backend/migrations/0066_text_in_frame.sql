-- Text in frame (issue 20, item 5): OCR on sampled frames, written by the job sync from a finished 'read-text' job
-- as annotations of type 'text' whose label is the recognised string (one track per text, keyframes where it was
-- read, an `outside` keyframe where it went away). Search over on-screen text uses the index below; the 'simple'
-- configuration, not 'english': signs, plates and captions are names and codes more than prose to be stemmed.

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('detect', 'track', 'summarize', 'augment', 'detect-types', 'track-box', 'transcribe', 'read-text'));

CREATE INDEX annotations_text_search ON annotations USING gin (to_tsvector('simple', label)) WHERE type = 'text';
