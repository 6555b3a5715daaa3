-- Provider connections' runs, version 1: which provider connection each run was
-- started on (RunQueued's providerConnectionId; blocked starts included), so a
-- connection's page lists its runs and its last verification without touching the
-- tenancy module's tables. The run's status is read from rm_runs.
CREATE TABLE rm_connection_runs_v1 (
    run_id        uuid        PRIMARY KEY,
    connection_id uuid        NOT NULL,
    tenant_id     uuid        NOT NULL,
    type          text        NOT NULL,
    queued_at     timestamptz NOT NULL
);
CREATE INDEX rm_connection_runs_v1_conn_idx ON rm_connection_runs_v1 (connection_id, queued_at DESC, run_id DESC);
CREATE INDEX rm_connection_runs_v1_conn_type_idx ON rm_connection_runs_v1 (connection_id, type, queued_at DESC, run_id DESC);
CREATE VIEW rm_connection_runs AS SELECT * FROM rm_connection_runs_v1;
INSERT INTO proj_active (name, version) VALUES ('connection_runs', 1);
