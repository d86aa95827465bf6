-- Apps are tenants: their id is part of NATS subjects and warehouse paths, hence the strict
-- pattern (no dots, wildcards or whitespace).
CREATE TABLE apps (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a key is stored; prefix is its first characters, for display.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    app_id       text NOT NULL REFERENCES apps (id),
    name         text NOT NULL,
    prefix       text NOT NULL,
    key_hash     text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz NULL,
    last_used_at timestamptz NULL
);

CREATE INDEX api_keys_app_id_idx ON api_keys (app_id);
