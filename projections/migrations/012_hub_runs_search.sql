-- Hub runs search (issue 13): the run's context as a column of its own, searchable by
-- JSON containment on a GIN index (jsonb_path_ops: only @>, a third of the size of the
-- default operator class), and the initiator's name by a case-insensitive equality. A run
-- id prefix needs no new index: it is a range on the primary key.
--
-- Additive on version 2 (a nullable column and two indexes), not a version bump: every
-- list query of version 2 keeps working during and after the migration, and no rebuild is
-- forced on a big database at deploy time. Runs projected before this migration have a
-- NULL context until `atlas projections rebuild hub_runs` (a blue/green rebuild from the
-- log) fills it; a context search does not find them until then.
ALTER TABLE rm_runs_v2 ADD COLUMN IF NOT EXISTS context jsonb;
CREATE INDEX IF NOT EXISTS rm_runs_v2_context_idx ON rm_runs_v2 USING gin (context jsonb_path_ops) WITH (fastupdate = off);
CREATE INDEX IF NOT EXISTS rm_runs_v2_initiator_idx ON rm_runs_v2 (lower(initiator_name), queued_at DESC, run_id DESC);

-- The stable view is SELECT * of the serving table, fixed when it was created: make it
-- again so it offers the new column. A database still served by version 1 (waiting for
-- its version 2 rebuild) offers the context of the version 1 snapshot.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.view_table_usage WHERE view_name = 'rm_runs' AND table_name = 'rm_runs_v2') THEN
        DROP VIEW rm_runs;
        CREATE VIEW rm_runs AS SELECT * FROM rm_runs_v2;
    ELSIF EXISTS (SELECT 1 FROM information_schema.view_table_usage WHERE view_name = 'rm_runs' AND table_name = 'rm_runs_v1') THEN
        DROP VIEW rm_runs;
        CREATE VIEW rm_runs AS SELECT *, snapshot->'Counts' AS counts, snapshot->'Context' AS context FROM rm_runs_v1;
    END IF;
END $$;
