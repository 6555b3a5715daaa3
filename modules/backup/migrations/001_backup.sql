-- Backup sets: the full payloads of selected policies, captured by
-- backup_set.add_policies. A set is sealed when its run ends; from then on the
-- database refuses to change or delete it or its items.
CREATE TABLE bk_sets (
    set_id     uuid        PRIMARY KEY,
    tenant_id  uuid        NOT NULL,
    run_id     uuid        NOT NULL UNIQUE,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    sealed_at  timestamptz,
    item_count integer     NOT NULL DEFAULT 0
);
CREATE INDEX bk_sets_tenant_idx ON bk_sets (tenant_id, created_at DESC, set_id DESC);

CREATE TABLE bk_items (
    set_id       uuid        NOT NULL REFERENCES bk_sets (set_id),
    policy_type  text        NOT NULL,
    policy_id    text        NOT NULL,
    display_name text        NOT NULL,
    payload      jsonb       NOT NULL,
    -- sha256 (hex) of the payload exactly as captured (canonical JSON, keys sorted).
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    captured_at  timestamptz NOT NULL,
    PRIMARY KEY (set_id, policy_type, policy_id)
);

-- Items of a sealed set are immutable: no insert, update or delete.
CREATE FUNCTION bk_items_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
BEGIN
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
CREATE TRIGGER bk_items_immutable BEFORE INSERT OR UPDATE OR DELETE ON bk_items
    FOR EACH ROW EXECUTE FUNCTION bk_items_immutable();

-- A sealed set stays sealed and is never deleted.
CREATE FUNCTION bk_sets_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.sealed_at IS NOT NULL THEN
        RAISE EXCEPTION 'backup set % is sealed: it cannot be changed or deleted', OLD.set_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bk_sets_immutable BEFORE UPDATE OR DELETE ON bk_sets
    FOR EACH ROW EXECUTE FUNCTION bk_sets_immutable();

-- TRUNCATE bypasses row triggers: refuse it outright.
CREATE FUNCTION bk_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'backup tables cannot be truncated' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER bk_items_no_truncate BEFORE TRUNCATE ON bk_items FOR EACH STATEMENT EXECUTE FUNCTION bk_no_truncate();
CREATE TRIGGER bk_sets_no_truncate BEFORE TRUNCATE ON bk_sets FOR EACH STATEMENT EXECUTE FUNCTION bk_no_truncate();
