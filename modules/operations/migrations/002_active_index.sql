-- The sweeper finds queued and running runs through the partial unique index on active
-- identities (its predicate covers exactly those rows), so the two partial indexes by
-- time are not worth their cost on every start and claim.
DROP INDEX ops_runs_queued_idx;
DROP INDEX ops_runs_running_idx;
