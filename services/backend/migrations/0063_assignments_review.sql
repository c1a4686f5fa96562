-- Assignment and review (issue 21, as CVAT's jobs and review stage). An assignment gives a video (or a frame
-- range of it) to an annotator and moves new -> in_progress -> submitted -> in_review -> accepted |
-- changes_requested (then in_progress again); fovea_backend/review.py says who may make each move.
-- review_issues: a reviewer's comment anchored to a frame and (optionally) a track, resolved by the annotator.
-- A video whose assignments are all accepted is read-only: the trigger below refuses any write of its tracks,
-- events or relations, whichever route, import or job makes it, until one is reopened. It also keeps an annotator
-- (the role of `fovea.actor`, 0061) to videos that are open (no assignments) or assigned to them.

CREATE TABLE assignments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id     text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    assignee_id  uuid NOT NULL REFERENCES users (id),
    first_frame  bigint CHECK (first_frame >= 0),
    last_frame   bigint,
    state        text NOT NULL DEFAULT 'new'
                 CHECK (state IN ('new', 'in_progress', 'submitted', 'in_review', 'accepted', 'changes_requested')),
    reviewer_id  uuid REFERENCES users (id),
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- The whole video, or frames first_frame..last_frame.
    CONSTRAINT assignments_range CHECK (first_frame IS NULL AND last_frame IS NULL
                                        OR first_frame IS NOT NULL AND last_frame >= first_frame)
);
CREATE INDEX assignments_video ON assignments (video_id);
CREATE INDEX assignments_assignee ON assignments (assignee_id);

-- Every move, for "who accepted this, when" and the per-person progress.
CREATE TABLE assignment_log (
    id            bigserial PRIMARY KEY,
    assignment_id uuid NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
    from_state    text,
    to_state      text NOT NULL,
    actor         uuid REFERENCES users (id),
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignment_log_assignment ON assignment_log (assignment_id, id);

CREATE TABLE review_issues (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    assignment_id uuid NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
    frame         bigint NOT NULL CHECK (frame >= 0),
    -- The track it is about; no foreign key: the issue stays readable if the track is deleted as its fix.
    track_id      uuid,
    message       text NOT NULL,
    author_id     uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    resolved_by   uuid REFERENCES users (id)
);
CREATE INDEX review_issues_assignment ON review_issues (assignment_id);

-- Whether a video's work is done: it has assignments and every one is accepted.
CREATE FUNCTION video_is_accepted(video text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM assignments a WHERE a.video_id = video)
       AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.video_id = video AND a.state <> 'accepted')
$$;

-- Statement-level (one check per statement, not per row); SQLSTATE 55000 is answered as 409 (errors.py).
CREATE FUNCTION refuse_writes_to_accepted_videos() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    refused_video text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- Removing the video itself (its rows cascade: the video row is gone by then) stays possible.
        SELECT o.video_id INTO refused_video FROM (SELECT DISTINCT video_id FROM old_rows) o
         WHERE video_is_accepted(o.video_id) AND EXISTS (SELECT 1 FROM videos v WHERE v.id = o.video_id) LIMIT 1;
    ELSE
        SELECT n.video_id INTO refused_video FROM (SELECT DISTINCT video_id FROM new_rows) n
         WHERE video_is_accepted(n.video_id) LIMIT 1;
    END IF;
    IF refused_video IS NOT NULL THEN
        RAISE EXCEPTION 'video % is accepted: its annotations are read-only until its assignment is reopened', refused_video
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- An annotator annotates open videos (no assignments) and those assigned to them; reviewers and admins any.
    IF TG_OP <> 'DELETE' AND (SELECT u.role FROM users u WHERE u.id = fovea_actor()) = 'annotator' THEN
        SELECT n.video_id INTO refused_video FROM (SELECT DISTINCT video_id FROM new_rows) n
         WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.video_id = n.video_id)
           AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.video_id = n.video_id AND a.assignee_id = fovea_actor())
         LIMIT 1;
    ELSIF TG_OP = 'DELETE' AND (SELECT u.role FROM users u WHERE u.id = fovea_actor()) = 'annotator' THEN
        SELECT o.video_id INTO refused_video FROM (SELECT DISTINCT video_id FROM old_rows) o
         WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.video_id = o.video_id)
           AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.video_id = o.video_id AND a.assignee_id = fovea_actor())
         LIMIT 1;
    END IF;
    IF refused_video IS NOT NULL THEN
        RAISE EXCEPTION 'video % is assigned to others: an annotator annotates open videos and their own', refused_video
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER annotations_accepted_insert AFTER INSERT ON annotations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotations_accepted_update AFTER UPDATE ON annotations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotations_accepted_delete AFTER DELETE ON annotations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotation_events_accepted_insert AFTER INSERT ON annotation_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotation_events_accepted_update AFTER UPDATE ON annotation_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotation_events_accepted_delete AFTER DELETE ON annotation_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotation_relations_accepted_insert AFTER INSERT ON annotation_relations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotation_relations_accepted_update AFTER UPDATE ON annotation_relations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
CREATE TRIGGER annotation_relations_accepted_delete AFTER DELETE ON annotation_relations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_to_accepted_videos();
