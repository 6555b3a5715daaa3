-- Backup schedules: a cron expression in an IANA time zone, the policy types to back
-- up and how many of the schedule's backup sets to keep. next_run_at is the next slot
-- (NULL while disabled); the scheduler advances it with a compare-and-set, so several
-- processes never advance one schedule twice. version is the schedule stream's version.
CREATE TABLE bk_schedules (
    schedule_id   uuid        PRIMARY KEY,
    workspace_id  uuid        NOT NULL,
    tenant_id     uuid        NOT NULL,
    name          text        NOT NULL,
    cron          text        NOT NULL,
    timezone      text        NOT NULL,
    policy_types  text[]      NOT NULL,
    retention     integer     NOT NULL CHECK (retention BETWEEN 1 AND 1000),
    enabled       boolean     NOT NULL,
    next_run_at   timestamptz,
    last_slot_at  timestamptz,
    skipped_slots bigint      NOT NULL DEFAULT 0,
    version       bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX bk_schedules_due_idx ON bk_schedules (next_run_at) WHERE enabled;
CREATE INDEX bk_schedules_tenant_idx ON bk_schedules (tenant_id, created_at, schedule_id);

-- The operation runs of each schedule (scheduled, run now, retry): the schedule page
-- lists them from the hub's read model by these ids.
CREATE TABLE bk_schedule_runs (
    run_id        uuid        PRIMARY KEY,
    schedule_id   uuid        NOT NULL REFERENCES bk_schedules (schedule_id),
    run_type      text        NOT NULL,
    scheduled_for timestamptz,
    recorded_at   timestamptz NOT NULL
);
CREATE INDEX bk_schedule_runs_schedule_idx ON bk_schedule_runs (schedule_id, recorded_at DESC, run_id DESC);

-- A schedule's backup sets, for its retention.
ALTER TABLE bk_sets ADD COLUMN schedule_id uuid;
CREATE INDEX bk_sets_schedule_idx ON bk_sets (schedule_id, created_at DESC, set_id DESC) WHERE schedule_id IS NOT NULL;

-- Retention is the one way a sealed set goes: a transaction that sets
-- atlas.backup_retention = 'on' (SET LOCAL) may delete sealed sets and their items;
-- nothing may ever change them.
CREATE OR REPLACE FUNCTION bk_items_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('atlas.backup_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' THEN
        target := NEW.set_id;
    ELSE
        target := OLD.set_id;
    END IF;
    IF EXISTS (SELECT 1 FROM bk_sets WHERE set_id = target AND sealed_at IS NOT NULL) THEN
        RAISE EXCEPTION 'backup set % is sealed: its items cannot be changed', target
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.set_id, NEW.policy_type, NEW.policy_id) IS DISTINCT FROM (OLD.set_id, OLD.policy_type, OLD.policy_id) THEN
        RAISE EXCEPTION 'backup item keys cannot be changed' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION bk_sets_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('atlas.backup_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF OLD.sealed_at IS NOT NULL THEN
        RAISE EXCEPTION 'backup set % is sealed: it cannot be changed or deleted', OLD.set_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
