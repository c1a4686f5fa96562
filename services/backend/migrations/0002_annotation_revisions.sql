-- A per-video revision counter for annotations, bumped in the same transaction as any insert, update or
-- delete of that video's annotations. GET /api/annotations/{videoId} uses it as the ETag and as the key of
-- its rendered-body cache, so a video with 10 000 annotations is rendered once per change, not per request.
-- Statement-level triggers with transition tables: one UPDATE per statement, not per row, so bulk inserts
-- (a detection job's result, an import) stay cheap.

ALTER TABLE videos ADD COLUMN annotation_rev bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_annotation_rev() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE videos SET annotation_rev = annotation_rev + 1 WHERE id IN (SELECT video_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE videos SET annotation_rev = annotation_rev + 1 WHERE id IN (SELECT video_id FROM old_rows);
    ELSE
        UPDATE videos SET annotation_rev = annotation_rev + 1
         WHERE id IN (SELECT video_id FROM new_rows UNION SELECT video_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER annotations_rev_insert AFTER INSERT ON annotations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_annotation_rev();
CREATE TRIGGER annotations_rev_update AFTER UPDATE ON annotations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_annotation_rev();
CREATE TRIGGER annotations_rev_delete AFTER DELETE ON annotations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_annotation_rev();
