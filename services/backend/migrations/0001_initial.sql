-- FOVEA backend schema, version 1: users and sessions, personas and their ontologies, the shared world
-- state, videos, annotations, summaries with pgvector embeddings, and the mirror of queued jobs.
-- Column names are snake_case; the API renders them camelCase.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE app_state (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    is_admin      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The cookie carries a random token; only its HMAC (keyed by the session_secret) is stored, so a
-- database dump does not hand out live sessions.
CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE personas (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    role             text NOT NULL DEFAULT '',
    information_need text NOT NULL DEFAULT '',
    hidden           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ontologies (
    persona_id     uuid PRIMARY KEY REFERENCES personas (id) ON DELETE CASCADE,
    entity_types   jsonb NOT NULL DEFAULT '[]',
    event_types    jsonb NOT NULL DEFAULT '[]',
    role_types     jsonb NOT NULL DEFAULT '[]',
    relation_types jsonb NOT NULL DEFAULT '[]',
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One shared world state: a singleton row, created here so GET /api/world never has to invent one.
CREATE TABLE world_state (
    id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    entities    jsonb NOT NULL DEFAULT '[]',
    events      jsonb NOT NULL DEFAULT '[]',
    times       jsonb NOT NULL DEFAULT '[]',
    locations   jsonb NOT NULL DEFAULT '[]',
    collections jsonb NOT NULL DEFAULT '[]',
    relations   jsonb NOT NULL DEFAULT '[]',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO world_state (id) VALUES (1);

CREATE TABLE videos (
    id         text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    filename   text NOT NULL UNIQUE,
    path       text NOT NULL,
    size_bytes bigint,
    duration   double precision,
    fps        double precision,
    width      integer,
    height     integer,
    metadata   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    queue        text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('detect', 'track', 'summarize', 'augment')),
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    progress     double precision NOT NULL DEFAULT 0,
    video_id     text REFERENCES videos (id) ON DELETE SET NULL,
    persona_id   uuid REFERENCES personas (id) ON DELETE SET NULL,
    params       jsonb NOT NULL DEFAULT '{}',
    result       jsonb,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
-- The job-sync loop only ever looks at unfinished jobs; keep that scan tiny.
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status IN ('queued', 'running');

-- job_id is provenance, not a foreign key: jobs may be pruned while their annotations stay.
CREATE TABLE annotations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id   text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    persona_id uuid REFERENCES personas (id) ON DELETE SET NULL,
    type       text NOT NULL,
    label      text NOT NULL,
    frames     jsonb NOT NULL,
    source     text NOT NULL CHECK (source IN ('manual', 'ai-assisted', 'automatic')),
    confidence double precision,
    job_id     uuid,
    dedupe_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Persisting one job's result twice must insert nothing new.
    UNIQUE (job_id, dedupe_key)
);
CREATE INDEX annotations_video_id ON annotations (video_id, created_at);

CREATE TABLE video_summaries (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id   text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    persona_id uuid REFERENCES personas (id) ON DELETE SET NULL,
    summary    jsonb NOT NULL DEFAULT '{}',
    text       text NOT NULL DEFAULT '',
    key_frames jsonb NOT NULL DEFAULT '[]',
    embedding  vector(384),
    job_id     uuid UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX video_summaries_video_id ON video_summaries (video_id);
CREATE INDEX video_summaries_embedding ON video_summaries USING hnsw (embedding vector_cosine_ops);
