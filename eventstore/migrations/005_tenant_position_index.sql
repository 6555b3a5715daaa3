-- A tenant's sealed events in global order, for replay (Store.ReadTenant): without it a
-- tenant replay walks the whole log (4,000,000 events for one tenant's few hundred).
-- tenant_id is an existing stored column (the event's metadata), so nothing is
-- rewritten and no hashed content changes. The index is partial on a global position,
-- so an append adds no entry to it (a new row has no position yet): the sealer's UPDATE
-- that gives the position adds it, off the append path. Events without a tenant
-- (workspace-scoped runs, workspace-level tenancy events) are left out.
CREATE INDEX IF NOT EXISTS es_events_tenant_position_idx ON es_events (tenant_id, global_position)
    WHERE tenant_id IS NOT NULL AND global_position IS NOT NULL;
