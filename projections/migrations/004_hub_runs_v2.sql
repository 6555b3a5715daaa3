-- Hub runs, version 2: the list columns only, counts as a column of their own, and no
-- snapshot of the whole run (the row itself is the fold state: everything the hub shows
-- of a run is in it). A row is ~200 bytes instead of ~1.1 KB, so a tenant's page of 50
-- runs reads a few cached pages instead of 50 scattered ones; tenant lists filtered by
-- type or status bucket walk an index of their own in list order.
CREATE TABLE rm_runs_v2 (
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
    counts            jsonb       NOT NULL,
    position          bigint      NOT NULL
);
CREATE INDEX rm_runs_v2_workspace_idx ON rm_runs_v2 (workspace_id, queued_at DESC, run_id DESC);
CREATE INDEX rm_runs_v2_tenant_idx ON rm_runs_v2 (tenant_id, queued_at DESC, run_id DESC);
CREATE INDEX rm_runs_v2_tenant_type_idx ON rm_runs_v2 (tenant_id, type, queued_at DESC, run_id DESC);
CREATE INDEX rm_runs_v2_tenant_bucket_idx ON rm_runs_v2 (tenant_id, bucket, queued_at DESC, run_id DESC);

-- A database without runs yet switches at once. One with runs keeps serving version 1
-- (through a view that also offers the counts column readers of version 2 select) until
-- the leading `atlas serve` has built version 2 from the log and swapped it in.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rm_runs_v1) THEN
        DROP VIEW rm_runs;
        DROP TABLE rm_runs_v1;
        CREATE VIEW rm_runs AS SELECT * FROM rm_runs_v2;
        UPDATE proj_active SET version = 2 WHERE name = 'hub_runs';
        DELETE FROM proj_checkpoints WHERE name = 'hub_runs' AND version = 1;
    ELSE
        CREATE OR REPLACE VIEW rm_runs AS SELECT *, snapshot->'Counts' AS counts FROM rm_runs_v1;
    END IF;
END $$;
