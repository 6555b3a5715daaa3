-- Alert rules, their deliveries and every delivery attempt (modules/alerts).
-- The rule's secret lives here only: never in an event, a read model, a log or an answer.
CREATE TABLE al_rules (
    id           uuid        PRIMARY KEY,
    workspace_id uuid        NOT NULL,
    events       text[]      NOT NULL,
    url          text        NOT NULL,
    types        text[]      NOT NULL DEFAULT '{}',
    tenants      uuid[]      NOT NULL DEFAULT '{}',
    secret       text        NOT NULL,
    created_by   uuid        NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX al_rules_workspace_idx ON al_rules (workspace_id, created_at DESC, id DESC);

-- The follower's place in the log: the global position of the last event it matched.
CREATE TABLE al_follower (
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO al_follower (name, position) VALUES ('deliveries', 0);

-- One delivery per (rule, run): replays and several followers insert it once.
CREATE TABLE al_deliveries (
    id              uuid        PRIMARY KEY,
    rule_id         uuid        NOT NULL REFERENCES al_rules (id) ON DELETE CASCADE,
    run_id          uuid        NOT NULL,
    workspace_id    uuid        NOT NULL,
    event           text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending', -- pending | delivered | failed
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    UNIQUE (rule_id, run_id)
);
CREATE INDEX al_deliveries_due_idx ON al_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX al_deliveries_workspace_idx ON al_deliveries (workspace_id, created_at DESC, id DESC);

-- Each attempt: the receiver's status code, or the class of the error (never its text).
CREATE TABLE al_attempts (
    delivery_id uuid        NOT NULL REFERENCES al_deliveries (id) ON DELETE CASCADE,
    attempt     int         NOT NULL,
    at          timestamptz NOT NULL,
    status_code int,
    error_class text,
    PRIMARY KEY (delivery_id, attempt)
);
