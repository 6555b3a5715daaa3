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

-- name: Timeline
SELECT stream_version, position, event_type, recorded_at, actor, summary
FROM rm_run_timeline WHERE run_id = $1 ORDER BY stream_version;

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
