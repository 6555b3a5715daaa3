-- Legacy runs, version 2: every legacy row the log knows, mapped or not. A row linked
-- to its run or imported as one has operation_run_id (the legacy URL redirects); a row
-- kept as history only (LegacyRunRecorded: it named a run that does not exist or is
-- another tenant's) has none, and its own fields, which the read-only history page shows.
CREATE TABLE rm_legacy_runs_v2 (
    legacy_table     text        NOT NULL,
    legacy_id        bigint      NOT NULL,
    operation_run_id uuid,
    imported         boolean     NOT NULL,
    recorded_at      timestamptz NOT NULL,
    workspace_id     uuid,
    tenant_id        uuid,
    status           text,
    started_at       timestamptz,
    finished_at      timestamptz,
    counts           jsonb,
    error            text,
    claimed_run_id   uuid,
    unmapped         text,
    PRIMARY KEY (legacy_table, legacy_id)
);

-- A database without legacy rows switches at once. One with rows keeps serving version 1
-- (through a view that also offers version 2's columns, empty) until the leading
-- `atlas serve` has built version 2 from the log and swapped it in.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rm_legacy_runs_v1) THEN
        DROP VIEW rm_legacy_runs;
        DROP TABLE rm_legacy_runs_v1;
        CREATE VIEW rm_legacy_runs AS SELECT * FROM rm_legacy_runs_v2;
        UPDATE proj_active SET version = 2 WHERE name = 'legacy_runs';
        DELETE FROM proj_checkpoints WHERE name = 'legacy_runs' AND version = 1;
    ELSE
        CREATE OR REPLACE VIEW rm_legacy_runs AS SELECT *, NULL::uuid AS workspace_id, NULL::uuid AS tenant_id,
            NULL::text AS status, NULL::timestamptz AS started_at, NULL::timestamptz AS finished_at, NULL::jsonb AS counts,
            NULL::text AS error, NULL::uuid AS claimed_run_id, NULL::text AS unmapped FROM rm_legacy_runs_v1;
    END IF;
END $$;
