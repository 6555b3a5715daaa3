-- What RunReader reads from the read models' views (the run list, with its optional
-- filters, is built in Go: runs_query.go).

-- name: LegacyRun
SELECT operation_run_id FROM rm_legacy_runs WHERE legacy_table = $1 AND legacy_id = $2;

-- name: Notifications
SELECT id, run_id, kind, title, body, url, created_at
FROM rm_notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2;

-- name: ScopeCounts
SELECT scope_id, bucket, runs FROM rm_scope_counts WHERE scope_id = ANY($1)
ORDER BY scope_id, bucket;

-- name: Timeline
SELECT stream_version, position, event_type, recorded_at, actor, summary
FROM rm_run_timeline WHERE run_id = $1 ORDER BY stream_version;
