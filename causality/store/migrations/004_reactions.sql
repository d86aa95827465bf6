-- Reactions: rules, anomaly detectors, webhooks, the outbox of deliveries and what fired.
-- Engines and dispatchers share all of their state through these tables, so any number of
-- them may run at once.

CREATE TABLE webhooks (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    url           text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    auth_type     text NOT NULL DEFAULT 'none'
                  CHECK (auth_type IN ('none', 'basic', 'bearer', 'hmac')),
    -- basic: the user name; the secret is the password, the bearer token or the HMAC key.
    -- Secrets are write-only through the API (they are needed in clear to sign and send).
    auth_username text,
    auth_secret   text,
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled       boolean NOT NULL DEFAULT true,
    max_attempts  integer NOT NULL DEFAULT 8 CHECK (max_attempts BETWEEN 1 AND 50),
    timeout_s     double precision NOT NULL DEFAULT 10 CHECK (timeout_s > 0 AND timeout_s <= 60),
    created_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_updated ON webhooks (updated_at DESC, id);

CREATE TABLE reaction_rules (
    id             uuid PRIMARY KEY,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description    text NOT NULL DEFAULT '',
    -- scope: NULL means any
    app_id         text REFERENCES apps(id) ON DELETE CASCADE,
    event_category text,
    event_type     text,
    -- the condition tree as validated by causality.reactions.conditions; NULL matches all
    condition      jsonb,
    priority       integer NOT NULL DEFAULT 0,
    enabled        boolean NOT NULL DEFAULT true,
    publish_alert  boolean NOT NULL DEFAULT false,
    created_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reaction_rules_updated ON reaction_rules (updated_at DESC, id);

CREATE TABLE anomaly_detectors (
    id             uuid PRIMARY KEY,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description    text NOT NULL DEFAULT '',
    kind           text NOT NULL CHECK (kind IN ('threshold', 'rate', 'count', 'baseline')),
    app_id         text REFERENCES apps(id) ON DELETE CASCADE,
    event_category text,
    event_type     text,
    condition      jsonb,
    -- kind-specific parameters, validated by causality.reactions.detectors
    params         jsonb NOT NULL DEFAULT '{}'::jsonb,
    cooldown_s     integer NOT NULL DEFAULT 300 CHECK (cooldown_s >= 0),
    enabled        boolean NOT NULL DEFAULT true,
    publish_alert  boolean NOT NULL DEFAULT false,
    created_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX anomaly_detectors_updated ON anomaly_detectors (updated_at DESC, id);

-- which webhooks a rule or detector delivers to; a webhook in use cannot be deleted
CREATE TABLE rule_webhooks (
    rule_id    uuid NOT NULL REFERENCES reaction_rules(id) ON DELETE CASCADE,
    webhook_id uuid NOT NULL REFERENCES webhooks(id) ON DELETE RESTRICT,
    PRIMARY KEY (rule_id, webhook_id)
);
CREATE INDEX rule_webhooks_webhook ON rule_webhooks (webhook_id);

CREATE TABLE detector_webhooks (
    detector_id uuid NOT NULL REFERENCES anomaly_detectors(id) ON DELETE CASCADE,
    webhook_id  uuid NOT NULL REFERENCES webhooks(id) ON DELETE RESTRICT,
    PRIMARY KEY (detector_id, webhook_id)
);
CREATE INDEX detector_webhooks_webhook ON detector_webhooks (webhook_id);

-- events counted per detector and time bucket (bucket = start, epoch seconds, of the
-- event's received_at); engines add to them with INSERT ... ON CONFLICT, so two engines
-- count exactly what one would
CREATE TABLE anomaly_counts (
    detector_id uuid NOT NULL REFERENCES anomaly_detectors(id) ON DELETE CASCADE,
    bucket      bigint NOT NULL,
    count       bigint NOT NULL,
    PRIMARY KEY (detector_id, bucket)
);

-- per detector: cooldown and the baseline's learned mean and variance; engines lock the row
-- (FOR UPDATE) while they judge, so a detector fires once whatever the number of engines
CREATE TABLE anomaly_state (
    detector_id     uuid PRIMARY KEY REFERENCES anomaly_detectors(id) ON DELETE CASCADE,
    last_fired_at   timestamptz,
    cooldown_until  double precision NOT NULL DEFAULT 0,   -- epoch seconds
    evaluated_until bigint,                                -- baseline: next bucket to judge
    mean            double precision NOT NULL DEFAULT 0,
    variance        double precision NOT NULL DEFAULT 0,
    observations    integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- every firing: a rule matching an event, or a detector finding an anomaly
CREATE TABLE alerts (
    id          uuid PRIMARY KEY,
    source      text NOT NULL CHECK (source IN ('rule', 'anomaly')),
    rule_id     uuid REFERENCES reaction_rules(id) ON DELETE SET NULL,
    detector_id uuid REFERENCES anomaly_detectors(id) ON DELETE SET NULL,
    name        text NOT NULL,
    app_id      text,
    event_id    text,
    summary     text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_created ON alerts (created_at DESC, id);
CREATE INDEX alerts_rule ON alerts (rule_id, created_at DESC) WHERE rule_id IS NOT NULL;
CREATE INDEX alerts_detector ON alerts (detector_id, created_at DESC) WHERE detector_id IS NOT NULL;
-- a redelivered event never fires the same rule twice
CREATE UNIQUE INDEX alerts_rule_event ON alerts (rule_id, event_id)
    WHERE rule_id IS NOT NULL AND event_id IS NOT NULL;

-- the outbox: written in the same transaction as the alert; the dispatcher claims due rows
-- with FOR UPDATE SKIP LOCKED. Exactly one target: a webhook, or a NATS subject.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    alert_id        uuid REFERENCES alerts(id) ON DELETE SET NULL,
    webhook_id      uuid REFERENCES webhooks(id) ON DELETE CASCADE,
    subject         text,
    kind            text NOT NULL DEFAULT 'alert' CHECK (kind IN ('alert', 'test')),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead_letter')),
    priority        integer NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 8,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((webhook_id IS NULL) <> (subject IS NULL))
);
CREATE INDEX deliveries_due ON deliveries (priority DESC, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX deliveries_created ON deliveries (created_at DESC, id);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at DESC);
CREATE INDEX deliveries_alert ON deliveries (alert_id);

-- every attempt of a delivery, for the history
CREATE TABLE delivery_attempts (
    delivery_id  uuid NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL DEFAULT 0,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, attempt)
);

-- stream sequences whose effects (counts, alerts) are committed, one row per engine batch:
-- a message redelivered after a crash between commit and ack is recognised and skipped
CREATE TABLE reaction_batches (
    id         bigserial PRIMARY KEY,
    consumer   text NOT NULL,
    seqs       bigint[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reaction_batches_seqs ON reaction_batches USING gin (seqs);
CREATE INDEX reaction_batches_created ON reaction_batches (created_at);

-- running engines reload their configuration when it changes (LISTEN causality_reactions)
CREATE FUNCTION notify_reactions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('causality_reactions', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER webhooks_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON webhooks
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reactions_changed();
CREATE TRIGGER reaction_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON reaction_rules FOR EACH STATEMENT EXECUTE FUNCTION notify_reactions_changed();
CREATE TRIGGER anomaly_detectors_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON anomaly_detectors FOR EACH STATEMENT EXECUTE FUNCTION notify_reactions_changed();
CREATE TRIGGER rule_webhooks_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON rule_webhooks FOR EACH STATEMENT EXECUTE FUNCTION notify_reactions_changed();
CREATE TRIGGER detector_webhooks_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON detector_webhooks FOR EACH STATEMENT EXECUTE FUNCTION notify_reactions_changed();

-- dispatchers wake as soon as something is due instead of waiting for their next poll
CREATE FUNCTION notify_delivery_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('causality_deliveries', '');
    RETURN NULL;
END $$;

CREATE TRIGGER deliveries_due AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_delivery_due();
