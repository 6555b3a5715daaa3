-- Dashboard counts, version 2: besides the runs per scope and bucket, the runs per scope,
-- queued hour and column (the bucket, with blocked runs apart from the other failed
-- ones), the runs finished per scope and hour, and each run's queued time and column, so
-- the overview sums a window of hourly rows (and finds the oldest queued run on a partial
-- index) instead of grouping the runs.
CREATE TABLE rm_scope_counts_v2 (
    scope_id uuid   NOT NULL,
    bucket   text   NOT NULL,
    runs     bigint NOT NULL,
    PRIMARY KEY (scope_id, bucket)
);
CREATE TABLE rm_scope_counts_runs_v2 (
    run_id    uuid        PRIMARY KEY,
    scope_id  uuid        NOT NULL,
    state     jsonb       NOT NULL,
    queued_at timestamptz NOT NULL,
    col       text        NOT NULL
);
CREATE INDEX rm_scope_counts_runs_v2_queued_idx ON rm_scope_counts_runs_v2 (scope_id, queued_at) WHERE col = 'queued';
CREATE TABLE rm_scope_hours_v2 (
    scope_id uuid        NOT NULL,
    hour     timestamptz NOT NULL,
    col      text        NOT NULL,
    runs     bigint      NOT NULL,
    PRIMARY KEY (scope_id, hour, col)
);
CREATE TABLE rm_scope_finished_v2 (
    scope_id uuid        NOT NULL,
    hour     timestamptz NOT NULL,
    runs     bigint      NOT NULL,
    PRIMARY KEY (scope_id, hour)
);
CREATE VIEW rm_scope_hours AS SELECT * FROM rm_scope_hours_v2;
CREATE VIEW rm_scope_finished AS SELECT * FROM rm_scope_finished_v2;

-- A database without runs switches at once; one with runs keeps serving version 1 until
-- the leading `atlas serve` has built version 2 from the log and swapped it in (the new
-- tables answer the overview empty meanwhile).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rm_scope_counts_runs_v1) THEN
        DROP VIEW rm_scope_counts, rm_scope_counts_runs;
        DROP TABLE rm_scope_counts_v1, rm_scope_counts_runs_v1;
        CREATE VIEW rm_scope_counts AS SELECT * FROM rm_scope_counts_v2;
        CREATE VIEW rm_scope_counts_runs AS SELECT * FROM rm_scope_counts_runs_v2;
        UPDATE proj_active SET version = 2 WHERE name = 'scope_counts';
        DELETE FROM proj_checkpoints WHERE name = 'scope_counts' AND version = 1;
    END IF;
END $$;
