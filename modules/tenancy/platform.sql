-- Platform users of /system (platform.go). Statements read by PlatformUser.scanTargets
-- select id, email, name, capabilities, break_glass, created_at, session_version,
-- disabled_at IS NOT NULL, in this order (then any extra column).

-- name: InsertPlatformUser
INSERT INTO tn_platform_users (id, email, name, password_hash, capabilities, break_glass, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: PlatformUserByID
SELECT id, email, name, capabilities, break_glass, created_at, session_version, disabled_at IS NOT NULL
FROM tn_platform_users WHERE id = $1;

-- name: PlatformUserByEmail
SELECT id, email, name, capabilities, break_glass, created_at, session_version, disabled_at IS NOT NULL
FROM tn_platform_users WHERE email = $1;

-- name: PlatformUserPasswordByEmail
SELECT id, email, name, capabilities, break_glass, created_at, session_version, disabled_at IS NOT NULL, password_hash
FROM tn_platform_users WHERE email = $1;

-- name: BumpPlatformSessionVersion
-- Ends every /system session of platform user $1.
UPDATE tn_platform_users SET session_version = session_version + 1 WHERE id = $1 RETURNING session_version;

-- name: DisablePlatformUser
-- Ends every session of platform user $1 and disables it at $2; no row when it already is.
UPDATE tn_platform_users SET session_version = session_version + 1, disabled_at = $2
WHERE id = $1 AND disabled_at IS NULL RETURNING session_version;
