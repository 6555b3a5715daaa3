-- Onboarding sessions (spec 216, 086 T036): a new tenant and its provider connection,
-- the session's verification run, and its bootstrap: the selected operations admitted
-- one after another (pending, in order; current_run_id is the one admitted last).
CREATE TABLE ob_sessions (
    session_id     uuid        PRIMARY KEY,
    workspace_id   uuid        NOT NULL,
    tenant_id      uuid        NOT NULL,
    connection_id  uuid        NOT NULL,
    created_by     uuid        NOT NULL,
    created_at     timestamptz NOT NULL,
    verify_run_id  uuid,
    pending        text[]      NOT NULL DEFAULT '{}',
    current_type   text        NOT NULL DEFAULT '',
    current_run_id uuid,
    admitted_runs  uuid[]      NOT NULL DEFAULT '{}'
);
CREATE INDEX ob_sessions_tenant_idx ON ob_sessions (tenant_id);
