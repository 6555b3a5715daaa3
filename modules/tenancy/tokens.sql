-- API tokens (tokens.go): only the SHA-256 of a token is stored and looked up.

-- name: UserExists
SELECT EXISTS (SELECT 1 FROM tn_users WHERE id = $1);

-- name: TokenByHash
SELECT id, user_id, revoked_at FROM tn_api_tokens WHERE token_hash = $1;

-- name: InsertToken
INSERT INTO tn_api_tokens (id, user_id, name, token_hash, created_at)
VALUES ($1, $2, $3, $4, $5);

-- name: LockToken
SELECT user_id, revoked_at FROM tn_api_tokens WHERE id = $1 FOR UPDATE;

-- name: RevokeToken
UPDATE tn_api_tokens SET revoked_at = $2 WHERE id = $1;

-- name: AuthenticateToken
-- The owner of a live token (the columns of User.scanTargets; a disabled owner is no match).
SELECT u.id, u.email, u.display_name, u.created_at, u.session_version, false
FROM tn_api_tokens k JOIN tn_users u ON u.id = k.user_id
WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL;
