-- What RunReader reads from the read models' views (the run list, with its optional
-- filters, is built in Go: runs_query.go).

-- name: LegacyRun
SELECT operation_run_id FROM rm_legacy_runs WHERE legacy_table = $1 AND legacy_id = $2 AND operation_run_id IS NOT NULL;

-- name: LegacyHistory
-- A legacy row kept as history only (no run maps to it).
SELECT legacy_table, legacy_id, tenant_id, workspace_id, status, started_at, finished_at, COALESCE(counts, '{}'::jsonb),
	COALESCE(error, ''), claimed_run_id, COALESCE(unmapped, ''), recorded_at
FROM rm_legacy_runs
WHERE legacy_table = $1 AND legacy_id = $2 AND operation_run_id IS NULL AND tenant_id IS NOT NULL;

-- name: Notifications
-- A user's notifications, newest first, each with when the user read it (null: unread);
-- $2/$3 continue after a page's last (created_at, id), null for the first page.
SELECT n.id, n.run_id, n.kind, n.title, n.body, n.url, n.created_at, r.read_at
FROM rm_notifications n
LEFT JOIN inbox_reads r ON r.user_id = n.user_id AND r.notification_id = n.id
WHERE n.user_id = $1 AND ($2::timestamptz IS NULL OR (n.created_at, n.id) < ($2, $3::uuid))
ORDER BY n.created_at DESC, n.id DESC LIMIT $4;

-- name: NotificationsUnread
SELECT count(*) FROM rm_notifications n
WHERE n.user_id = $1
  AND NOT EXISTS (SELECT 1 FROM inbox_reads r WHERE r.user_id = $1 AND r.notification_id = n.id);

-- name: NotificationsMenu
-- The layout's menu: the user's newest $2 notifications (as Notifications' first page),
-- each with the count of the user's unread ones (as NotificationsUnread; no rows: none).
SELECT n.id, n.run_id, n.kind, n.title, n.body, n.url, n.created_at, r.read_at,
	(SELECT count(*) FROM rm_notifications u WHERE u.user_id = $1
		AND NOT EXISTS (SELECT 1 FROM inbox_reads ur WHERE ur.user_id = $1 AND ur.notification_id = u.id))
FROM rm_notifications n
LEFT JOIN inbox_reads r ON r.user_id = n.user_id AND r.notification_id = n.id
WHERE n.user_id = $1
ORDER BY n.created_at DESC, n.id DESC LIMIT $2;

-- name: NotificationMarkRead
-- Only the user's own notification: the count is 0 for anyone else's (a 404).
WITH own AS (SELECT id FROM rm_notifications WHERE id = $2 AND user_id = $1),
     ins AS (INSERT INTO inbox_reads (user_id, notification_id, read_at)
             SELECT $1, id, $3 FROM own ON CONFLICT DO NOTHING)
SELECT count(*) FROM own;

-- name: NotificationsMarkAllRead
INSERT INTO inbox_reads (user_id, notification_id, read_at)
SELECT $1, n.id, $2 FROM rm_notifications n WHERE n.user_id = $1
ON CONFLICT DO NOTHING;

-- name: ScopeCounts
SELECT scope_id, bucket, runs FROM rm_scope_counts WHERE scope_id = ANY($1)
ORDER BY scope_id, bucket;

-- name: ScopeWindow
-- The overview: runs queued since $2 per scope and column, summed over hourly rows.
SELECT scope_id, col, sum(runs)::bigint FROM rm_scope_hours
WHERE scope_id = ANY($1) AND hour >= $2 GROUP BY scope_id, col;

-- name: ScopeThroughput
-- The overview's sparkline: runs of the scopes finished per hour since $2.
SELECT hour, sum(runs)::bigint FROM rm_scope_finished
WHERE scope_id = ANY($1) AND hour >= $2 GROUP BY hour ORDER BY hour;

-- name: ScopeOldestQueued
-- The overview: when the scopes' oldest still queued run was queued (NULL if none).
SELECT min(queued_at) FROM rm_scope_counts_runs WHERE scope_id = ANY($1) AND col = 'queued';

-- name: Timeline
SELECT stream_version, position, event_type, recorded_at, actor, summary
FROM rm_run_timeline WHERE run_id = $1 ORDER BY stream_version;

-- name: AuditLogPage
-- One page of the audit log, newest first. $1/$2 are what the caller may see: entries
-- of a tenant in $2, and entries without a tenant of a workspace in $1. $3..$8 are the
-- filters (null: any); $9 continues below a page's last position (null: first page).
SELECT position, entry_id, action, outcome, actor, workspace_id, tenant_id, target, before::text, after::text,
    ip, user_agent, reason, recorded_at, hash, chain_hash
FROM rm_audit_log
WHERE ((tenant_id IS NULL AND workspace_id = ANY($1::uuid[])) OR tenant_id = ANY($2::uuid[]))
  AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR action = $4)
  AND ($5::uuid IS NULL OR tenant_id = $5) AND ($6::text IS NULL OR outcome = $6)
  AND ($7::timestamptz IS NULL OR recorded_at >= $7) AND ($8::timestamptz IS NULL OR recorded_at < $8)
  AND ($9::bigint IS NULL OR position < $9)
ORDER BY position DESC LIMIT $10;

-- name: AuditLogExport
-- AuditLogPage oldest first, for an export: $9 continues above a page's last position
-- (0: from the start), $11 stops at the chain head the export names.
SELECT position, entry_id, action, outcome, actor, workspace_id, tenant_id, target, before::text, after::text,
    ip, user_agent, reason, recorded_at, hash, chain_hash
FROM rm_audit_log
WHERE ((tenant_id IS NULL AND workspace_id = ANY($1::uuid[])) OR tenant_id = ANY($2::uuid[]))
  AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR action = $4)
  AND ($5::uuid IS NULL OR tenant_id = $5) AND ($6::text IS NULL OR outcome = $6)
  AND ($7::timestamptz IS NULL OR recorded_at >= $7) AND ($8::timestamptz IS NULL OR recorded_at < $8)
  AND position > $9 AND position <= $11
ORDER BY position LIMIT $10;

-- name: AuditLogCheckpoint
-- How far the audit log read model has applied the log.
SELECT c.position FROM proj_checkpoints c JOIN proj_active a ON a.name = c.name AND a.version = c.version
WHERE c.name = 'audit_log';
-- name: LinkedRuns
-- The runs of tenant $1 that linked one of the objects ($2 kinds, $3 ids, pairwise) at
-- or after $4, newest link first, at most $5. Only the tenant's runs: a link to another
-- tenant's object id is never listed.
SELECT r.run_id, r.type, r.workspace_id, r.tenant_id, r.status, r.outcome, r.bucket, r.reason_code,
	r.initiator_name, r.queued_at, r.started_at, r.completed_at, COALESCE(r.counts, '{}'::jsonb)
FROM (SELECT l.run_id, max(l.linked_at) AS linked_at
      FROM unnest($2::text[], $3::uuid[]) AS o(kind, object_id)
      CROSS JOIN LATERAL (SELECT run_id, linked_at FROM rm_run_links
          WHERE kind = o.kind AND object_id = o.object_id AND linked_at >= $4
          ORDER BY linked_at DESC, run_id DESC LIMIT $5) l
      GROUP BY l.run_id) l
JOIN rm_runs r ON r.run_id = l.run_id AND r.tenant_id = $1
ORDER BY l.linked_at DESC, r.run_id DESC LIMIT $5;
-- name: SavedViewUpsert
-- $1 user, $2 name, $3 url, $4 at, $5 the most views a user keeps: a new name beyond it
-- inserts nothing (the count is 0 rows).
INSERT INTO saved_views (user_id, name, url, created_at)
SELECT $1, $2, $3, $4
WHERE EXISTS (SELECT 1 FROM saved_views WHERE user_id = $1 AND name = $2)
   OR (SELECT count(*) FROM saved_views WHERE user_id = $1) < $5
ON CONFLICT (user_id, name) DO UPDATE SET url = EXCLUDED.url, created_at = EXCLUDED.created_at;

-- name: SavedViewsList
SELECT name, url, created_at FROM saved_views WHERE user_id = $1 ORDER BY lower(name), name;

-- name: SavedViewDelete
DELETE FROM saved_views WHERE user_id = $1 AND name = $2;

-- name: ReplicaReplay
-- On a read replica: whether it is a standby, the WAL position it has replayed, and
-- the seconds since the last transaction it replayed committed on the primary.
SELECT pg_is_in_recovery(), COALESCE(pg_last_wal_replay_lsn()::text, ''),
	COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8;

-- name: ReplicaBehind
-- On the primary: the bytes of WAL written past a replica's replayed position.
SELECT GREATEST(pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn), 0)::bigint;
