-- Memberships (memberships.go).

-- name: UpsertMembership
-- $1 user, $2 workspace, $3 tenant (NULL: workspace level), $4 role, $5 now. Returns the
-- previous role (NULL when new); no row when the membership already has this role.
WITH old AS (
	SELECT role FROM tn_memberships
	WHERE user_id = $1 AND workspace_id = $2 AND tenant_id IS NOT DISTINCT FROM $3
)
INSERT INTO tn_memberships (user_id, workspace_id, tenant_id, role, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT ON CONSTRAINT tn_memberships_key DO UPDATE
	SET role = EXCLUDED.role, updated_at = EXCLUDED.updated_at
	WHERE tn_memberships.role <> EXCLUDED.role
RETURNING (SELECT role FROM old);

-- name: MembershipScope
-- $1 user, $2 workspace, $3 tenant: whether the user and workspace exist, and the tenant's workspace.
SELECT
	EXISTS (SELECT 1 FROM tn_users WHERE id = $1),
	EXISTS (SELECT 1 FROM tn_workspaces WHERE id = $2),
	(SELECT workspace_id FROM tn_tenants WHERE id = $3);

-- name: DeleteMembership
DELETE FROM tn_memberships
WHERE user_id = $1 AND workspace_id = $2 AND tenant_id IS NOT DISTINCT FROM $3
RETURNING role;

-- name: MembershipsOfWorkspace
-- Workspace-level first, then by tenant.
SELECT user_id, workspace_id, tenant_id, role FROM tn_memberships
WHERE workspace_id = $1 ORDER BY tenant_id NULLS FIRST, user_id;
