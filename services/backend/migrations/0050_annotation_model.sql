-- The annotation model beyond boxes (issue 22): a track is evidence of a world entity, carries attributes and can
-- be locked; events span frames with participants in role slots; relations link annotated objects. Events and
-- relations are per-video documents merged like tracks (merge.py): each has a version, bumps the video's
-- annotation revision, and leaves a tombstone when deleted, through the same trigger functions as annotations.
--
-- annotations.entity_id: the world entity (world_state.entities[].id) this track shows; NULL: none.
-- annotations.attributes: the values of the type's attributes fixed for the whole track; the mutable ones live
--   on keyframes (frames[].attributes) and hold until the next keyframe that sets them.
-- annotations.locked: a locked track refuses every change but unlocking (editor and server alike).

ALTER TABLE annotations
    ADD COLUMN entity_id  text,
    ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN locked     boolean NOT NULL DEFAULT false;
CREATE INDEX annotations_entity ON annotations (entity_id) WHERE entity_id IS NOT NULL;

-- roles: {roleTypeId: [{kind: "track" | "entity" | "event", id}]}; a frame tag is an event with no roles.
CREATE TABLE annotation_events (
    id          uuid PRIMARY KEY,
    video_id    text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    persona_id  uuid REFERENCES personas (id) ON DELETE SET NULL,
    type        text NOT NULL,
    label       text NOT NULL,
    start_frame bigint NOT NULL CHECK (start_frame >= 0),
    end_frame   bigint NOT NULL,
    roles       jsonb NOT NULL DEFAULT '{}',
    attributes  jsonb NOT NULL DEFAULT '{}',
    source      text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'ai-assisted', 'automatic')),
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT annotation_events_span CHECK (end_frame >= start_frame)
);
CREATE INDEX annotation_events_video ON annotation_events (video_id, created_at);

-- source / target: {kind: "track" | "event" | "entity", id}.
CREATE TABLE annotation_relations (
    id         uuid PRIMARY KEY,
    video_id   text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    persona_id uuid REFERENCES personas (id) ON DELETE SET NULL,
    type       text NOT NULL,
    source     jsonb NOT NULL,
    target     jsonb NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}',
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annotation_relations_video ON annotation_relations (video_id, created_at);

-- The same triggers as annotations (0002, 0010), for both tables: names keep the order rev → tombstone within one
-- event (triggers of one event fire in name order).
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['annotation_events', 'annotation_relations'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_rev_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION bump_annotation_rev()', name);
        EXECUTE format('CREATE TRIGGER %1$s_rev_update AFTER UPDATE ON %1$I REFERENCING OLD TABLE AS old_rows'
                       ' NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_annotation_rev()', name);
        EXECUTE format('CREATE TRIGGER %1$s_rev_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION bump_annotation_rev()', name);
        EXECUTE format('CREATE TRIGGER %1$s_tombstone_delete AFTER DELETE ON %1$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION remember_deleted_annotations()', name);
        EXECUTE format('CREATE TRIGGER %1$s_version BEFORE UPDATE ON %1$I'
                       ' FOR EACH ROW EXECUTE FUNCTION bump_annotation_version()', name);
    END LOOP;
END
$$;

-- Which tracks each user has hidden in a video: a view preference, kept per user like video_positions.
CREATE TABLE video_view_prefs (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id   text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    hidden     uuid[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, video_id)
);
