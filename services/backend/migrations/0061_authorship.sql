-- Who did what (issue 21). The backend hands out every connection of a request with the setting `fovea.actor` =
-- the signed-in user's id (db.ActorPool); the defaults and triggers here read it, so every write of a track,
-- whichever route, import or job made it, records its author without each statement having to say so.
--
-- annotations.created_by / updated_by: who made the track, who last changed its content (a rewrite with the
--   same content, which keeps `version`, keeps updated_by too).
-- annotation_history: one row per content version of a track (and one for its deletion): who, when, and the
--   whole row as it was then, so a track can be shown as "who changed what when" and restored to any version.
--   No foreign keys: history outlives a deleted track, and a video's removal deletes its history explicitly.
-- jobs.created_by: who asked for an AI job; the tracks it produces are theirs.

CREATE FUNCTION fovea_actor() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('fovea.actor', true), '')::uuid
$$;

-- On insert the authors are column defaults (cheaper than a row trigger on a 10 000-track detection result).
ALTER TABLE annotations
    ADD COLUMN created_by uuid DEFAULT fovea_actor() REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN updated_by uuid DEFAULT fovea_actor() REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE jobs ADD COLUMN created_by uuid DEFAULT fovea_actor() REFERENCES users (id) ON DELETE SET NULL;

-- Before annotations_version (BEFORE triggers fire in name order): an upsert that writes whole rows must not
-- change the authors, or the version check would count that as a content change.
CREATE FUNCTION keep_annotation_authors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_by := OLD.created_by;
    NEW.updated_by := OLD.updated_by;
    RETURN NEW;
END
$$;

-- After annotations_version: whoever changed the content is its last author.
CREATE FUNCTION stamp_annotation_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_by := coalesce(fovea_actor(), OLD.updated_by);
    RETURN NEW;
END
$$;

-- WHEN keeps the functions from running at all for the common case (an update that names neither author; a row
-- whose content, so version, did not change).
CREATE TRIGGER annotations_author_keep BEFORE UPDATE ON annotations FOR EACH ROW
    WHEN (NEW.created_by IS DISTINCT FROM OLD.created_by OR NEW.updated_by IS DISTINCT FROM OLD.updated_by)
    EXECUTE FUNCTION keep_annotation_authors();
CREATE TRIGGER annotations_version_author BEFORE UPDATE ON annotations FOR EACH ROW
    WHEN (NEW.version IS DISTINCT FROM OLD.version)
    EXECUTE FUNCTION stamp_annotation_update();

CREATE TABLE annotation_history (
    id            bigserial PRIMARY KEY,
    annotation_id uuid NOT NULL,
    video_id      text NOT NULL,
    version       bigint NOT NULL,
    op            text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    actor         uuid,
    at            timestamptz NOT NULL DEFAULT now(),
    track         jsonb NOT NULL
);
CREATE INDEX annotation_history_track ON annotation_history (annotation_id, id);
CREATE INDEX annotation_history_video ON annotation_history (video_id);

-- Statement-level with transition tables, like the revision triggers: a detection job's thousand tracks are one
-- INSERT ... SELECT here, not a thousand.
CREATE FUNCTION record_annotation_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO annotation_history (annotation_id, video_id, version, op, actor, track)
        SELECT n.id, n.video_id, n.version, 'create', fovea_actor(), to_jsonb(n) FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO annotation_history (annotation_id, video_id, version, op, actor, track)
        SELECT n.id, n.video_id, n.version, 'update', fovea_actor(), to_jsonb(n)
          FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.version <> o.version;
    ELSE
        INSERT INTO annotation_history (annotation_id, video_id, version, op, actor, track)
        SELECT o.id, o.video_id, o.version, 'delete', fovea_actor(), to_jsonb(o) FROM old_rows o;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER annotations_history_insert AFTER INSERT ON annotations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_annotation_history();
CREATE TRIGGER annotations_history_update AFTER UPDATE ON annotations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION record_annotation_history();
CREATE TRIGGER annotations_history_delete AFTER DELETE ON annotations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION record_annotation_history();
