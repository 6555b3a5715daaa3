-- What RunReader reads from the read models' views (the run list, with its optional
-- filters, is built in Go: runs_query.go).

-- name: LegacyRun
SELECT operation_run_id FROM rm_legacy_runs WHERE legacy_table = $1 AND legacy_id = $2;

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
