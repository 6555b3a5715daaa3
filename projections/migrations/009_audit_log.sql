-- Idempotent (IF NOT EXISTS, ON CONFLICT): the upgrade tests re-apply the projection migrations
-- on a schema that keeps this table.
-- Audit log read model, version 1: one row per AuditRecorded event, keyed by its global
-- position (keyset paging, newest first), with the event's content and chain hashes so
-- an export can be checked against the log (`atlas audit verify`). One index per filter
-- of the audit page and GET /api/v1/audit, each ending in the position for the keyset.
CREATE TABLE IF NOT EXISTS rm_audit_log_v1 (
    position     bigint      PRIMARY KEY,
    entry_id     uuid        NOT NULL,
    action       text        NOT NULL,
    outcome      text        NOT NULL,
    actor        text        NOT NULL,
    workspace_id uuid,
    tenant_id    uuid,
    target       text        NOT NULL,
    before       json,
    after        json,
    ip           text        NOT NULL,
    user_agent   text        NOT NULL,
    reason       text        NOT NULL,
    recorded_at  timestamptz NOT NULL,
    hash         bytea       NOT NULL,
    chain_hash   bytea       NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_audit_log_v1_workspace_idx ON rm_audit_log_v1 (workspace_id, position DESC);
CREATE INDEX IF NOT EXISTS rm_audit_log_v1_tenant_idx ON rm_audit_log_v1 (tenant_id, position DESC) WHERE tenant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS rm_audit_log_v1_actor_idx ON rm_audit_log_v1 (actor, position DESC);
CREATE INDEX IF NOT EXISTS rm_audit_log_v1_action_idx ON rm_audit_log_v1 (action, position DESC);
CREATE INDEX IF NOT EXISTS rm_audit_log_v1_outcome_idx ON rm_audit_log_v1 (outcome, position DESC);
CREATE INDEX IF NOT EXISTS rm_audit_log_v1_recorded_idx ON rm_audit_log_v1 (recorded_at, position);
CREATE OR REPLACE VIEW rm_audit_log AS SELECT * FROM rm_audit_log_v1;
INSERT INTO proj_active (name, version) VALUES ('audit_log', 1) ON CONFLICT DO NOTHING;
