-- The connection_runs projection (connections.go): its Apply and its readers.

-- name: ConnectionRunsInsert
INSERT INTO {{table}} (run_id, connection_id, tenant_id, type, queued_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[])
ON CONFLICT (run_id) DO NOTHING;

-- name: ConnectionRuns
-- A connection's runs, newest first, with their list columns from rm_runs; $2 narrows
-- to one type ('' = all), $3 is the page size.
SELECT r.run_id, r.type, r.workspace_id, r.tenant_id, r.status, r.outcome, r.bucket, r.reason_code,
	r.initiator_name, r.queued_at, r.started_at, r.completed_at, COALESCE(r.counts, '{}'::jsonb)
FROM rm_connection_runs c JOIN rm_runs r ON r.run_id = c.run_id
WHERE c.connection_id = $1 AND ($2 = '' OR c.type = $2)
ORDER BY c.queued_at DESC, c.run_id DESC LIMIT $3;

-- name: ConnectionsLatestRun
-- The newest run of type $2 on each connection of $1 (none: no row).
SELECT l.connection_id, r.run_id, r.type, r.workspace_id, r.tenant_id, r.status, r.outcome, r.bucket, r.reason_code,
	r.initiator_name, r.queued_at, r.started_at, r.completed_at, COALESCE(r.counts, '{}'::jsonb)
FROM unnest($1::uuid[]) AS w(id)
CROSS JOIN LATERAL (SELECT c.connection_id, c.run_id FROM rm_connection_runs c
	WHERE c.connection_id = w.id AND c.type = $2 ORDER BY c.queued_at DESC, c.run_id DESC LIMIT 1) l
JOIN rm_runs r ON r.run_id = l.run_id;
