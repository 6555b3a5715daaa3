-- Inventory snapshots: the policy metadata an inventory.sync observed, one snapshot
-- per run. Bulk observed data, not events: the run's events name the snapshot
-- (RunLinked) and carry the counts.
CREATE TABLE inv_snapshots (
    snapshot_id  uuid        PRIMARY KEY,
    tenant_id    uuid        NOT NULL,
    run_id       uuid        NOT NULL UNIQUE,
    taken_at     timestamptz NOT NULL,
    completed_at timestamptz,
    -- building while the run lists; complete when every policy type was listed without
    -- a failure; partial when some were not; failed when the run failed.
    status       text        NOT NULL CHECK (status IN ('building', 'complete', 'partial', 'failed')),
    item_count   integer     NOT NULL DEFAULT 0,
    -- per policy type: {"deviceConfigurations": {"total": n, "succeeded": n, "failed": n}}
    type_counts  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX inv_snapshots_tenant_idx ON inv_snapshots (tenant_id, taken_at DESC, snapshot_id DESC);

-- One row per policy of a snapshot: whitelisted metadata fields only, never payloads.
CREATE TABLE inv_items (
    snapshot_id  uuid NOT NULL REFERENCES inv_snapshots (snapshot_id) ON DELETE CASCADE,
    policy_type  text NOT NULL,
    policy_id    text NOT NULL,
    display_name text NOT NULL,
    fields       jsonb NOT NULL,
    -- sha256 (hex) of the canonical JSON of fields: equal hashes, equal metadata.
    content_hash text NOT NULL,
    PRIMARY KEY (snapshot_id, policy_type, policy_id)
);
