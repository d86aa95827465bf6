-- What analysts keep: saved queries, their query history, and dashboards of saved insights.

-- shared with the team: they outlive their author (owner set to NULL)
CREATE TABLE saved_queries (
    id          uuid PRIMARY KEY,
    owner_id    uuid REFERENCES users(id) ON DELETE SET NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    sql         text NOT NULL CHECK (length(sql) BETWEEN 1 AND 100000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saved_queries_updated ON saved_queries (updated_at DESC, id);

CREATE TABLE query_history (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sql         text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'error')),
    row_count   integer NOT NULL DEFAULT 0,
    elapsed_ms  double precision NOT NULL DEFAULT 0,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX query_history_user ON query_history (user_id, id DESC);

CREATE TABLE dashboards (
    id          uuid PRIMARY KEY,
    owner_id    uuid REFERENCES users(id) ON DELETE SET NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    -- the shared date range and the ordered tiles, validated by the gateway before storing
    date_range  jsonb,
    tiles       jsonb NOT NULL DEFAULT '[]'::jsonb,
    refresh_s   integer NOT NULL DEFAULT 0 CHECK (refresh_s >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboards_updated ON dashboards (updated_at DESC, id);
