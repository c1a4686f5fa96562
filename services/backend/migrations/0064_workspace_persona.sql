-- The workspace shows and saves one persona's annotations (issue 21, item 6): which one each user chose in each
-- video, and whether they asked to see every persona's (others' read-only), kept with the rest of their view of it.
-- `persona_scope`: a persona's id as text, 'none' (the annotations without a persona), or NULL (never chosen: the app
-- picks). Text, not a foreign key: a persona deleted since is a stale choice the app replaces, not an error.

ALTER TABLE video_view_prefs
    ADD COLUMN persona_scope text CHECK (persona_scope = 'none' OR persona_scope ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    ADD COLUMN all_personas boolean NOT NULL DEFAULT false;
