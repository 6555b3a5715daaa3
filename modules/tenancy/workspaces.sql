-- Workspaces and tenants (workspaces.go). Statements read by scanTenant select
-- t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at, in this order.

-- name: InsertWorkspace
INSERT INTO tn_workspaces (id, name, created_at) VALUES ($1, $2, $3);

-- name: InsertTenant
-- Inserts nothing when workspace $2 does not exist.
INSERT INTO tn_tenants (id, workspace_id, name, external_tenant_id, created_at)
SELECT $1, w.id, $3, $4, $5 FROM tn_workspaces w WHERE w.id = $2;

-- name: WorkspaceByID
SELECT id, name, created_at FROM tn_workspaces WHERE id = $1;

-- name: WorkspaceByName
SELECT id, name, created_at FROM tn_workspaces WHERE name = $1;

-- name: TenantByID
SELECT t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at FROM tn_tenants t WHERE t.id = $1;

-- name: TenantsOfWorkspace
SELECT t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at FROM tn_tenants t
WHERE t.workspace_id = $1 ORDER BY t.name, t.id;

-- name: TenantsByID
SELECT t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at FROM tn_tenants t
WHERE t.id = ANY($1) ORDER BY t.name, t.id;

-- name: AllWorkspaces
SELECT id, name, created_at FROM tn_workspaces ORDER BY name, id;
