-- The projection runner's bookkeeping: one checkpoint per projection version, written in
-- the same transaction as that version's read-model rows, and which version serves.
CREATE TABLE proj_checkpoints (
    name       text        NOT NULL,
    version    integer     NOT NULL,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

CREATE TABLE proj_active (
    name    text    PRIMARY KEY,
    version integer NOT NULL
);

-- Hub runs, version 1: one row per run, the run as the hub lists and shows it. The
-- stable name rm_runs is a view over the serving version, so a rebuilt version can be
-- swapped in atomically.
CREATE TABLE rm_runs_v1 (
    run_id            uuid        PRIMARY KEY,
    type              text        NOT NULL,
    workspace_id      uuid        NOT NULL,
    tenant_id         uuid,
    status            text        NOT NULL,
    outcome           text        NOT NULL,
    bucket            text        NOT NULL,
    reason_code       text,
    initiator_user_id uuid,
    initiator_name    text        NOT NULL,
    queued_at         timestamptz NOT NULL,
    started_at        timestamptz,
    completed_at      timestamptz,
    snapshot          jsonb       NOT NULL,
    position          bigint      NOT NULL
);
CREATE INDEX rm_runs_v1_workspace_idx ON rm_runs_v1 (workspace_id, queued_at DESC, run_id DESC);
CREATE INDEX rm_runs_v1_tenant_idx ON rm_runs_v1 (tenant_id, queued_at DESC, run_id DESC);
CREATE VIEW rm_runs AS SELECT * FROM rm_runs_v1;
INSERT INTO proj_active (name, version) VALUES ('hub_runs', 1);
