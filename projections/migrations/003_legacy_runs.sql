-- Legacy-run mappings, version 1: which operation run each legacy row
-- (inventory_sync_runs, entra_group_sync_runs, backup_schedule_runs) maps to, from
-- LegacyRunImported and LegacyRunLinked events. Legacy view URLs redirect to the
-- canonical viewer when a row is here and show read-only history otherwise.
CREATE TABLE rm_legacy_runs_v1 (
    legacy_table     text        NOT NULL,
    legacy_id        bigint      NOT NULL,
    operation_run_id uuid        NOT NULL,
    imported         boolean     NOT NULL,
    recorded_at      timestamptz NOT NULL,
    PRIMARY KEY (legacy_table, legacy_id)
);
CREATE VIEW rm_legacy_runs AS SELECT * FROM rm_legacy_runs_v1;
INSERT INTO proj_active (name, version) VALUES ('legacy_runs', 1);
