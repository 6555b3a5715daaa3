-- Authorization (authorize.go). A user's effective role on tenant t is the tenant-level
-- membership's role if there is one, else the workspace-level one: the subquery
--   (SELECT m.role FROM tn_memberships m WHERE m.user_id = <user> AND m.workspace_id = t.workspace_id
--     AND (m.tenant_id = t.id OR m.tenant_id IS NULL) ORDER BY m.tenant_id IS NULL LIMIT 1)
-- written out in AuthorizeTenant and RoleFor, and as joins in VisibleTenants and TenantSwitcher; keep the four alike.

-- name: AuthorizeTenant
-- $1 tenant, $2 user: the tenant (the columns scanTenant reads) and the user's effective role on it.
SELECT t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at,
	(SELECT m.role FROM tn_memberships m
		WHERE m.user_id = $2 AND m.workspace_id = t.workspace_id AND (m.tenant_id = t.id OR m.tenant_id IS NULL)
		ORDER BY m.tenant_id IS NULL LIMIT 1)
FROM tn_tenants t WHERE t.id = $1;

-- name: AuthorizeWorkspace
-- $1 workspace, $2 user: the workspace-level role (NULL when none) and whether any membership exists.
SELECT
	(SELECT m.role FROM tn_memberships m WHERE m.user_id = $2 AND m.workspace_id = w.id AND m.tenant_id IS NULL),
	EXISTS (SELECT 1 FROM tn_memberships m WHERE m.user_id = $2 AND m.workspace_id = w.id)
FROM tn_workspaces w WHERE w.id = $1;

-- name: RoleFor
-- $1 tenant, $2 user: the user's effective role on the tenant.
SELECT
	(SELECT m.role FROM tn_memberships m
		WHERE m.user_id = $2 AND m.workspace_id = t.workspace_id AND (m.tenant_id = t.id OR m.tenant_id IS NULL)
		ORDER BY m.tenant_id IS NULL LIMIT 1)
FROM tn_tenants t WHERE t.id = $1;

-- name: VisibleTenants
-- $1 roles having the capability, $2 user. The effective role written as two joins
-- (tenant-level tm, else workspace-level wm; the unique key allows one of each): the
-- same answer as the subquery above, without a sorted subquery per tenant (a thousand
-- of them for an MSP's workspace).
SELECT t.id FROM tn_tenants t
LEFT JOIN tn_memberships tm ON tm.user_id = $2 AND tm.workspace_id = t.workspace_id AND tm.tenant_id = t.id
LEFT JOIN tn_memberships wm ON wm.user_id = $2 AND wm.workspace_id = t.workspace_id AND wm.tenant_id IS NULL
WHERE t.workspace_id IN (SELECT workspace_id FROM tn_memberships WHERE user_id = $2)
	AND COALESCE(tm.role, wm.role) = ANY($1)
ORDER BY t.created_at, t.id;

-- name: TenantSwitcher
-- $1 roles having the capability, $2 user, $3 how many, $4 a tenant shown whatever its
-- role (the page's, authorized by the page; null for none): the first $3 tenants of
-- VisibleTenants' answer and $4, by name, each with how many VisibleTenants answers
-- (0 rows: none visible). Its visibility predicate is VisibleTenants'.
WITH visible AS (
	SELECT t.id, t.created_at FROM tn_tenants t
	LEFT JOIN tn_memberships tm ON tm.user_id = $2 AND tm.workspace_id = t.workspace_id AND tm.tenant_id = t.id
	LEFT JOIN tn_memberships wm ON wm.user_id = $2 AND wm.workspace_id = t.workspace_id AND wm.tenant_id IS NULL
	WHERE t.workspace_id IN (SELECT workspace_id FROM tn_memberships WHERE user_id = $2)
		AND COALESCE(tm.role, wm.role) = ANY($1)
), head AS (
	SELECT id FROM visible ORDER BY created_at, id LIMIT $3
)
SELECT t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at, (SELECT count(*) FROM visible)
FROM tn_tenants t WHERE t.id IN (SELECT id FROM head) OR t.id = $4
ORDER BY t.name, t.id;

-- name: VisibleWorkspaces
-- $1 user, $2 roles having the capability: workspaces where a workspace-level membership has it.
SELECT workspace_id FROM tn_memberships
WHERE user_id = $1 AND tenant_id IS NULL AND role = ANY($2) ORDER BY workspace_id;

-- name: MemberWorkspaces
SELECT DISTINCT workspace_id FROM tn_memberships WHERE user_id = $1 ORDER BY workspace_id;
