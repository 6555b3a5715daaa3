-- Provider connections (connections.go). Statements read by scanConnection select
-- id, tenant_id, provider, display_name, is_default, status, entra_tenant_id, client_id,
-- secret_ref, graph_base_url, status_reason, updated_at, in this order.

-- name: LockTenantForConnection
-- Locks the tenant row so concurrent adds decide "first = default" one at a time.
SELECT workspace_id FROM tn_tenants WHERE id = $1 FOR NO KEY UPDATE;

-- name: TenantHasNoDefaultConnection
SELECT NOT EXISTS (SELECT 1 FROM tn_provider_connections WHERE tenant_id = $1 AND is_default);

-- name: InsertConnection
INSERT INTO tn_provider_connections (id, tenant_id, provider, display_name, is_default,
	status, status_reason, entra_tenant_id, client_id, secret_ref, graph_base_url, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12);

-- name: LockConnectionStatus
SELECT c.tenant_id, t.workspace_id, c.status, c.status_reason
FROM tn_provider_connections c JOIN tn_tenants t ON t.id = c.tenant_id
WHERE c.id = $1 FOR NO KEY UPDATE OF c;

-- name: UpdateConnectionStatus
UPDATE tn_provider_connections SET status = $2, status_reason = $3, updated_at = $4
WHERE id = $1;

-- name: LockConnectionEndpoint
SELECT c.tenant_id, t.workspace_id, c.graph_base_url
FROM tn_provider_connections c JOIN tn_tenants t ON t.id = c.tenant_id
WHERE c.id = $1 FOR NO KEY UPDATE OF c;

-- name: UpdateConnectionEndpoint
UPDATE tn_provider_connections SET graph_base_url = $2, updated_at = $3 WHERE id = $1;

-- name: DefaultConnection
SELECT id, tenant_id, provider, display_name, is_default, status, entra_tenant_id,
	client_id, secret_ref, graph_base_url, status_reason, updated_at
FROM tn_provider_connections WHERE tenant_id = $1 AND is_default;

-- name: ConnectionByID
SELECT id, tenant_id, provider, display_name, is_default, status, entra_tenant_id,
	client_id, secret_ref, graph_base_url, status_reason, updated_at
FROM tn_provider_connections WHERE id = $1;

-- name: ConnectionsOfTenant
-- The default first.
SELECT id, tenant_id, provider, display_name, is_default, status, entra_tenant_id,
	client_id, secret_ref, graph_base_url, status_reason, updated_at
FROM tn_provider_connections WHERE tenant_id = $1 ORDER BY is_default DESC, created_at, id;
