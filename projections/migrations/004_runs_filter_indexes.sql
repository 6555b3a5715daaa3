-- Tenant lists filtered by type or status bucket walk an index in list order instead
-- of filtering a tenant's whole history (p99 60 ms → a few ms on a million runs).
CREATE INDEX rm_runs_v1_tenant_type_idx ON rm_runs_v1 (tenant_id, type, queued_at DESC, run_id DESC);
CREATE INDEX rm_runs_v1_tenant_bucket_idx ON rm_runs_v1 (tenant_id, bucket, queued_at DESC, run_id DESC);
