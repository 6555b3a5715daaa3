-- The runner (runner.go, rebuild.go, metrics.go): checkpoints, the leader lock, rebuilds
-- and version swaps. The shadow-table DDL of a rebuild is built in Go (rebuild.go): it
-- names several tables per projection.

-- name: Checkpoint
-- $1 projection name, $2 version.
SELECT position FROM proj_checkpoints WHERE name = $1 AND version = $2;

-- name: AdvanceCheckpoint
-- Moves the checkpoint from $4 to $3; no row when another runner moved it meanwhile.
-- The step's transaction commits without waiting for its WAL flush (synchronous_commit
-- off, for this transaction only): a read model is derived, and its writes commit or
-- vanish together with the checkpoint, so a crash can only take the projection back to
-- an earlier checkpoint, from which it applies the same sealed events again. A fsync
-- per projection per batch was on the path from a start to the hub.
INSERT INTO proj_checkpoints (name, version, position)
SELECT $1::text, $2::integer, $3::bigint FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
ON CONFLICT (name, version) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
	WHERE proj_checkpoints.position = $4;

-- name: TryLeaderLock
SELECT pg_try_advisory_lock($1);

-- name: LeaderUnlock
SELECT pg_advisory_unlock($1);

-- name: UnlistenAll
UNLISTEN *;

-- name: InsertRebuildCheckpoint
INSERT INTO proj_checkpoints (name, version) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: LockRebuildCheckpoint
-- Serialises the swap with a runner stepping the same version.
SELECT 1 FROM proj_checkpoints WHERE name = $1 AND version = $2 FOR UPDATE;

-- name: SetRebuildCheckpoint
UPDATE proj_checkpoints SET position = $3, updated_at = now() WHERE name = $1 AND version = $2;

-- name: LiftTimeouts
-- A rebuild's transactions may run long: no statement or idle timeout for them.
SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0;

-- name: ActiveVersion
SELECT version FROM proj_active WHERE name = $1;

-- name: ActivateVersion
INSERT INTO proj_active (name, version) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version;

-- name: RunsByBucket
-- The atlas_runs gauge.
SELECT bucket, count(*) FROM rm_runs GROUP BY bucket;

-- name: ShadowIndexes
-- The indexes of a bulk rebuild's shadow table $1 (a table name): for each, the statement
-- that drops it and the one that makes it again (a constraint's through ALTER TABLE), the
-- primary key first. The rebuild drops them before its COPY and makes them after it.
SELECT CASE WHEN c.oid IS NULL THEN 'DROP INDEX ' || i.indexrelid::regclass::text
		ELSE 'ALTER TABLE ' || i.indrelid::regclass::text || ' DROP CONSTRAINT ' || quote_ident(c.conname) END,
	CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
		ELSE 'ALTER TABLE ' || i.indrelid::regclass::text || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid) END,
	i.indisprimary
FROM pg_index i
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
WHERE i.indrelid = to_regclass(quote_ident($1))
ORDER BY i.indisprimary DESC, i.indexrelid;
