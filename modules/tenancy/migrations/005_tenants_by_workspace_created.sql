-- The tenant switcher (authorize.sql, TenantSwitcher) walks a workspace's tenants in
-- (created_at, id) order and stops at the few it shows; without this index it read and
-- sorted every tenant of the workspace on every hub page (0.73 ms at 1,000 tenants).
CREATE INDEX tn_tenants_workspace_created_idx ON tn_tenants (workspace_id, created_at, id);
