-- The world state is written one object at a time (POST/PATCH/DELETE /api/world/{kind}/...), each write under the
-- singleton row's lock, so two people editing different objects both keep their edits. `revision` counts writes of
-- any kind (the per-object routes, the whole-state PUT, an import): GET's ETag, and the If-Match a whole-state PUT
-- may carry so it cannot replace what it has not seen.

ALTER TABLE world_state ADD COLUMN revision bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_world_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER world_state_revision BEFORE UPDATE ON world_state
    FOR EACH ROW EXECUTE FUNCTION bump_world_revision();
