-- The append-only event store.
--
-- es_streams holds one row per stream: its type and current version. Append takes the
-- row lock (UPDATE ... WHERE version = expected), which is what makes optimistic
-- concurrency exact without relying on unique-violation errors.
CREATE TABLE es_streams (
    stream_id   text        PRIMARY KEY,
    stream_type text        NOT NULL,
    version     bigint      NOT NULL CHECK (version >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- es_events is the log. Ordering columns:
--   seq              insertion order (identity); NOT the global order, because
--                    transactions commit in another order than they draw numbers.
--   transaction_id   the writing transaction (xid8), as watermill-sql does: every
--                    transaction below pg_snapshot_xmin(pg_current_snapshot()) has ended.
--   global_position  the global order, dense from 1, assigned after commit by the sealer
--                    in (transaction_id, seq) order to events whose transaction ended; NULL
--                    until then. A reader that follows global_position can never pass an
--                    event that is still uncommitted.
-- hash is the event's content hash (computed at append); chain_hash links it to the
-- previous global position (computed when sealed). See eventstore/doc.go.
CREATE TABLE es_events (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    global_position bigint,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_type     text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            json        NOT NULL,
    actor           text        NOT NULL,
    workspace_id    uuid,
    tenant_id       uuid,
    correlation_id  uuid,
    causation_id    uuid,
    recorded_at     timestamptz NOT NULL,
    hash            bytea       NOT NULL,
    chain_hash      bytea,
    CONSTRAINT es_events_event_id_key UNIQUE (event_id),
    CONSTRAINT es_events_stream_version_key UNIQUE (stream_id, stream_version)
);

-- Both partial, so an append writes no entry into either ordering index but the one
-- the sealer needs; sealing moves the row from the second to the first.
CREATE UNIQUE INDEX es_events_global_position_key ON es_events (global_position) WHERE global_position IS NOT NULL;
CREATE INDEX es_events_unsealed_idx ON es_events (transaction_id, seq) WHERE global_position IS NULL;

-- es_seal_head is the sealer's single row: the last sealed position and its chain hash.
CREATE TABLE es_seal_head (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    position   bigint      NOT NULL,
    chain_hash bytea       NOT NULL,
    sealed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO es_seal_head (position, chain_hash) VALUES (0, '\x'::bytea);

-- The outbox: watermill-sql's PostgreSQL schema (DefaultPostgreSQLSchema and
-- DefaultPostgreSQLOffsetsAdapter) for the topic "atlas_events", created here rather
-- than by watermill at start-up.
CREATE TABLE "watermill_atlas_events" (
    "offset"         BIGSERIAL,
    "uuid"           VARCHAR(36) NOT NULL,
    "created_at"     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload"        JSON        DEFAULT NULL,
    "metadata"       JSON        DEFAULT NULL,
    "transaction_id" xid8        NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);

CREATE TABLE "watermill_offsets_atlas_events" (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);
