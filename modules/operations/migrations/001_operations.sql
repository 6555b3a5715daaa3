-- The operations module's own state: what the start gate, the workers and the sweeper
-- need to decide, written in the same transaction as the run's events. The hub's read
-- models are projections (projections/), not these tables.
CREATE TABLE ops_runs (
    run_id            uuid        PRIMARY KEY,
    type              text        NOT NULL,
    workspace_id      uuid        NOT NULL,
    tenant_id         uuid,
    status            text        NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    outcome           text        NOT NULL,
    identity_hash     text        NOT NULL,
    initiator_user_id uuid,
    queued_at         timestamptz NOT NULL,
    started_at        timestamptz,
    completed_at      timestamptz,
    heartbeat_at      timestamptz,
    worker_id         text
);

-- Active-run dedupe, enforced by the database: at most one queued or running run per
-- identity. The gate inserts with ON CONFLICT against this index in the transaction
-- that appends RunQueued.
CREATE UNIQUE INDEX ops_runs_active_identity ON ops_runs (identity_hash) WHERE status IN ('queued', 'running');
CREATE INDEX ops_runs_queued_idx ON ops_runs (queued_at) WHERE status = 'queued';
CREATE INDEX ops_runs_running_idx ON ops_runs (heartbeat_at) WHERE status = 'running';

-- Protected scopes (tenant + provider connection) held by active provider-backed runs.
CREATE TABLE ops_scope_locks (
    scope_key text        PRIMARY KEY,
    run_id    uuid        NOT NULL REFERENCES ops_runs (run_id),
    locked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_scope_locks_run_idx ON ops_scope_locks (run_id);

-- Identities that are unique forever (a scheduled backup's schedule id + fire time).
CREATE TABLE ops_permanent_identities (
    identity_hash text PRIMARY KEY,
    run_id        uuid NOT NULL REFERENCES ops_runs (run_id)
);

-- watermill-sql tables of the dispatch topic and its poison queue (DefaultPostgreSQLSchema
-- and DefaultPostgreSQLOffsetsAdapter layouts).
CREATE TABLE "watermill_ops_dispatch" (
    "offset"         BIGSERIAL,
    "uuid"           VARCHAR(36) NOT NULL,
    "created_at"     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload"        JSON        DEFAULT NULL,
    "metadata"       JSON        DEFAULT NULL,
    "transaction_id" xid8        NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);
CREATE TABLE "watermill_offsets_ops_dispatch" (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);
CREATE TABLE "watermill_ops_dispatch_poison" (
    "offset"         BIGSERIAL,
    "uuid"           VARCHAR(36) NOT NULL,
    "created_at"     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload"        JSON        DEFAULT NULL,
    "metadata"       JSON        DEFAULT NULL,
    "transaction_id" xid8        NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);
CREATE TABLE "watermill_offsets_ops_dispatch_poison" (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);
