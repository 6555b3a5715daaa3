-- Restores: a backup set written back to its tenant. A restore.preview run stores each
-- item's diff against the tenant's current state (read from Graph by the run, never
-- while rendering); a restore.execute run stores each item's result.
CREATE TABLE rs_restores (
    restore_id     uuid        PRIMARY KEY,
    tenant_id      uuid        NOT NULL,
    workspace_id   uuid        NOT NULL,
    set_id         uuid        NOT NULL REFERENCES bk_sets (set_id),
    created_by     uuid        NOT NULL,
    created_at     timestamptz NOT NULL,
    -- previewing → previewed | preview_failed; previewed → executing → executed | failed
    status         text        NOT NULL CHECK (status IN ('previewing', 'previewed', 'preview_failed', 'executing', 'executed', 'failed')),
    preview_run_id uuid,
    execute_run_id uuid
);
CREATE INDEX rs_restores_tenant_idx ON rs_restores (tenant_id, created_at DESC, restore_id DESC);

CREATE TABLE rs_items (
    restore_id     uuid    NOT NULL REFERENCES rs_restores (restore_id),
    policy_type    text    NOT NULL,
    policy_id      text    NOT NULL,
    display_name   text    NOT NULL,
    high_risk      boolean NOT NULL,
    -- The preview: created (absent in the tenant), updated, unchanged, or error
    -- (preview_reason says why).
    diff           text    CHECK (diff IN ('created', 'updated', 'unchanged', 'error')),
    changed_fields text[]  NOT NULL DEFAULT '{}',
    current_sha256 text    NOT NULL DEFAULT '',
    preview_reason text    NOT NULL DEFAULT '',
    -- The execution: created, updated, skipped or failed (reason_code, message say why).
    result         text    CHECK (result IN ('created', 'updated', 'skipped', 'failed')),
    reason_code    text    NOT NULL DEFAULT '',
    message        text    NOT NULL DEFAULT '',
    created_id     text    NOT NULL DEFAULT '',
    PRIMARY KEY (restore_id, policy_type, policy_id)
);

-- A workspace's restore settings: high-risk policy types are preview-only unless enabled.
CREATE TABLE rs_settings (
    workspace_id      uuid    PRIMARY KEY,
    high_risk_enabled boolean NOT NULL DEFAULT false
);
