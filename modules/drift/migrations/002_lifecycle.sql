-- The lifecycle of drift findings (spec 113, findings.lifecycle.backfill): the
-- per-run occurrences in drift_findings consolidated into one finding per tenant,
-- policy and field key (the changed field, or "@added" / "@removed" / "@changed" for a
-- finding without fields), with when it was first and last seen and whether the
-- tenant's newest drift report still has it (open) or not (resolved).
CREATE TABLE drift_finding_lifecycle (
    tenant_id     uuid        NOT NULL,
    policy_type   text        NOT NULL,
    policy_id     text        NOT NULL,
    field_key     text        NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    status        text        NOT NULL CHECK (status IN ('open', 'resolved')),
    occurrences   integer     NOT NULL CHECK (occurrences > 0),
    last_run_id   uuid        NOT NULL,
    PRIMARY KEY (tenant_id, policy_type, policy_id, field_key)
);
