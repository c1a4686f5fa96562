-- AI jobs steered by a persona: detection typed by its ontology ('detect-types') and "track this box"
-- ('track-box'); every job can be cancelled ('cancelled'); `detail` mirrors the worker's frames done / total and
-- stage ("loading model", "detecting", "tracking") beside the 0..1 progress.

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('detect', 'track', 'summarize', 'augment', 'detect-types', 'track-box'));
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled'));
ALTER TABLE jobs ADD COLUMN detail jsonb NOT NULL DEFAULT '{}';

-- Free-text search over summaries (GET /api/videos/{id}/summaries/similar?text=): the evidence text, indexed.
CREATE INDEX video_summaries_text_search ON video_summaries USING gin (to_tsvector('english', text));
