-- People who use the web UI and the analytics API. Emails are stored lowercased (the CHECK
-- keeps every writer honest) so uniqueness is case-insensitive without the citext extension.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The apps a user may see; no rows means every app. RESTRICT (the default) on apps so that
-- removing an app can never silently widen a limited user to "all apps".
CREATE TABLE user_apps (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id  text NOT NULL REFERENCES apps (id),
    PRIMARY KEY (user_id, app_id)
);

-- Server-side sessions. Only the SHA-256 of the session id is stored: a database leak does not
-- hand out live cookies. The CSRF token is not a credential on its own, so it is kept in clear.
CREATE TABLE sessions (
    id_hash      text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    user_agent   text NULL,
    ip           text NULL
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Personal API tokens for scripts; hashed like ingestion keys. A token's role is a ceiling:
-- the effective role is the lower of it and the owner's current role.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NULL,
    revoked_at   timestamptz NULL,
    last_used_at timestamptz NULL
);

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

-- Login attempts for the brute-force limit, shared by every gateway replica. A row is written
-- before the password is checked (so concurrent guesses count) and the email's rows are
-- deleted on success; old rows are purged by the gateway's housekeeping.
CREATE TABLE login_attempts (
    id           bigserial PRIMARY KEY,
    email        text NOT NULL,
    ip           text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_attempts_email_idx ON login_attempts (email, attempted_at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, attempted_at);
