-- Drift reports and findings, keyed by the drift.generate run that produced them.
CREATE TABLE drift_reports (
    run_id               uuid        PRIMARY KEY,
    tenant_id            uuid        NOT NULL,
    baseline_snapshot_id uuid        NOT NULL,
    current_snapshot_id  uuid        NOT NULL,
    generated_at         timestamptz NOT NULL,
    added                integer     NOT NULL,
    removed              integer     NOT NULL,
    changed              integer     NOT NULL
);
CREATE INDEX drift_reports_tenant_idx ON drift_reports (tenant_id, generated_at DESC, run_id DESC);

CREATE TABLE drift_findings (
    run_id       uuid NOT NULL REFERENCES drift_reports (run_id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL,
    policy_type  text NOT NULL,
    policy_id    text NOT NULL,
    display_name text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('added', 'removed', 'changed')),
    -- changed: [{"field": …, "before": …, "after": …}] over the whitelisted fields
    changes      jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, policy_type, policy_id)
);
CREATE INDEX drift_findings_tenant_idx ON drift_findings (tenant_id, run_id);
