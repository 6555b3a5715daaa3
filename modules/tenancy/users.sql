-- Users, passwords and sessions (users.go, login.go, sessions.go). Statements read by
-- User.scanTargets select id, email, display_name, created_at, session_version,
-- disabled_at IS NOT NULL, in this order (then any extra column).

-- name: InsertUser
INSERT INTO tn_users (id, email, display_name, password_hash, created_at)
VALUES ($1, $2, $3, $4, $5);

-- name: UserByID
SELECT id, email, display_name, created_at, session_version, disabled_at IS NOT NULL FROM tn_users WHERE id = $1;

-- name: UserByEmail
SELECT id, email, display_name, created_at, session_version, disabled_at IS NOT NULL FROM tn_users WHERE email = $1;

-- name: UserPasswordByEmail
SELECT id, email, display_name, created_at, session_version, disabled_at IS NOT NULL, password_hash
FROM tn_users WHERE email = $1;

-- name: SetPasswordHash
UPDATE tn_users SET password_hash = $2 WHERE id = $1;

-- name: BumpSessionVersion
-- Ends every session of user $1.
UPDATE tn_users SET session_version = session_version + 1 WHERE id = $1 RETURNING session_version;

-- name: DisableUser
-- Ends every session of user $1 and disables it at $2; no row when it is already disabled.
UPDATE tn_users SET session_version = session_version + 1, disabled_at = $2
WHERE id = $1 AND disabled_at IS NULL RETURNING session_version;
