-- Questions in plain English: each user's conversations and every turn with its streamed
-- steps, the audit trail of what was asked, what the model answered and what ran.

CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user ON conversations (user_id, updated_at DESC, id);

CREATE TABLE llm_turns (
    conversation_id   uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn              integer NOT NULL CHECK (turn >= 1),
    mode              text NOT NULL CHECK (mode IN ('sql', 'agent')),
    -- running until the stream ends; interrupted when the client went away first
    status            text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'answered', 'failed', 'interrupted')),
    question          text NOT NULL,
    prompt_chars      integer NOT NULL DEFAULT 0,
    sql               text,
    intent            text NOT NULL DEFAULT '',
    row_count         integer,
    error             text,
    attempts          integer NOT NULL DEFAULT 0,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    latency_ms        double precision NOT NULL DEFAULT 0,
    -- every streamed step, in order, exactly as the client received it
    steps             jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, turn)
);
