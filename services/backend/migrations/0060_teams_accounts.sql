-- Teams (issue 21): roles, disabled accounts and one-time passwords, listable sessions, API tokens.
--
-- users.role: admin > reviewer > annotator > viewer (fovea_backend/roles.py says what each may call).
--   is_admin stays for whatever still reads or writes it: a trigger keeps it equal to role = 'admin', and an insert
--   that names only is_admin (as before roles) gets role admin or annotator from it.
-- users.disabled_at: a disabled account cannot log in, and its sessions and tokens stop working at once.
-- users.must_change_password: the password was made by an admin (a one-time password); the app asks for a
--   new one first.
-- sessions.id: what a user (or an admin) names to end one session; the token itself is never shown again.
-- api_tokens: like sessions, only the HMAC of the token is stored; `role` is at most the user's role when
--   made, and is capped by the user's current role whenever it is used.

ALTER TABLE users
    ADD COLUMN role text CHECK (role IN ('admin', 'reviewer', 'annotator', 'viewer')),
    ADD COLUMN disabled_at timestamptz,
    ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
    ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();
UPDATE users SET role = CASE WHEN is_admin THEN 'admin' ELSE 'annotator' END;
ALTER TABLE users ALTER COLUMN role SET NOT NULL;

CREATE FUNCTION users_role_and_is_admin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.role := coalesce(NEW.role, CASE WHEN NEW.is_admin THEN 'admin' ELSE 'annotator' END);
    END IF;
    NEW.is_admin := NEW.role = 'admin';
    RETURN NEW;
END
$$;

CREATE TRIGGER users_role BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_role_and_is_admin();

ALTER TABLE sessions
    ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN user_agent text NOT NULL DEFAULT '',
    ADD COLUMN client text NOT NULL DEFAULT '';
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'reviewer', 'annotator', 'viewer')),
    token_hash   text NOT NULL UNIQUE,
    -- The first characters of the token, so a list tells tokens apart without holding them.
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    UNIQUE (user_id, name)
);
