-- What the merging save (PUT /api/videos/{id}/annotations with `changes`) needs to merge exactly, per track,
-- with what others saved since the revision a client's change set was made against:
--
-- annotations.version: bumped by a row trigger whenever a track's content changes (any column but the
--   bookkeeping ones), so "delete this track as I last saw it" can tell whether someone changed it since
--   (then it is a conflict, not a delete). A rewrite with identical content keeps the version, so an
--   idempotent re-import or a retried save does not look like a change.
-- annotation_tombstones: a deleted track's id with the annotation revision its deletion produced. A create
--   retried after its response was lost (the track was made, then someone deleted it) is then a conflict
--   instead of a resurrection; a client whose base revision is at or past the deletion has seen it, and may
--   bring the track back on purpose.
-- video_positions: the frame each user was last on, per video, so reopening a video returns there.

ALTER TABLE annotations ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION bump_annotation_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'version' - 'updated_at') IS DISTINCT FROM (to_jsonb(OLD) - 'version' - 'updated_at') THEN
        NEW.version := OLD.version + 1;
    ELSE
        NEW.version := OLD.version;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER annotations_version BEFORE UPDATE ON annotations
    FOR EACH ROW EXECUTE FUNCTION bump_annotation_version();

CREATE TABLE annotation_tombstones (
    id          uuid PRIMARY KEY,
    -- No foreign key: removing a video removes its tombstones explicitly (a cascade would race the trigger).
    video_id    text NOT NULL,
    deleted_rev bigint NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annotation_tombstones_video ON annotation_tombstones (video_id);

-- Runs after annotations_rev_delete (triggers of one event fire in name order), so annotation_rev is already
-- this statement's revision, read under the row lock that trigger took.
CREATE FUNCTION remember_deleted_annotations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotation_tombstones (id, video_id, deleted_rev)
    SELECT o.id, o.video_id, v.annotation_rev FROM old_rows o JOIN videos v ON v.id = o.video_id
    ON CONFLICT (id) DO UPDATE SET video_id = excluded.video_id, deleted_rev = excluded.deleted_rev, deleted_at = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER annotations_tombstone_delete AFTER DELETE ON annotations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION remember_deleted_annotations();

CREATE TABLE video_positions (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id   text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    frame      bigint NOT NULL CHECK (frame >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, video_id)
);
