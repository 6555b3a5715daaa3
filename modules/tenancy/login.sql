-- The sign-in throttle (login.go): a row per key in tn_login_throttle.

-- name: SweepLoginThrottle
-- $1 the oldest live window start, $2 the keys of this attempt (kept).
DELETE FROM tn_login_throttle WHERE key IN (
	SELECT key FROM tn_login_throttle WHERE window_start <= $1 AND NOT key = ANY($2)
	ORDER BY window_start LIMIT 100 FOR UPDATE SKIP LOCKED);

-- name: InsertLoginThrottleKeys
INSERT INTO tn_login_throttle (key, window_start, failures)
SELECT k, $2, 0 FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (key) DO NOTHING;

-- name: LockLoginThrottleKeys
SELECT key, window_start, failures, refused FROM tn_login_throttle
WHERE key = ANY($1) ORDER BY key FOR UPDATE;

-- name: UpdateLoginThrottle
UPDATE tn_login_throttle t SET window_start = v.ws, failures = v.f, refused = v.r
FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[]) AS v(key, ws, f, r) WHERE t.key = v.key;

-- name: RefundLoginThrottle
UPDATE tn_login_throttle SET failures = failures - 1
WHERE key = ANY($1) AND failures > 0;
