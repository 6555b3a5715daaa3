-- Cached directory objects per tenant, refreshed by directory.groups.sync and
-- directory.role_definitions.sync: upserted by object id, the ones a complete sync no
-- longer saw deleted. The pickers search display names (substring, case-insensitive).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE dir_groups (
    tenant_id        uuid        NOT NULL,
    object_id        text        NOT NULL,
    display_name     text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    mail             text        NOT NULL DEFAULT '',
    mail_enabled     boolean     NOT NULL DEFAULT false,
    security_enabled boolean     NOT NULL DEFAULT false,
    group_types      text[]      NOT NULL DEFAULT '{}',
    content_hash     text        NOT NULL,
    run_id           uuid        NOT NULL,
    last_synced_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);
-- Prefix search and the empty query (first names in order) per tenant.
CREATE INDEX dir_groups_name_idx ON dir_groups (tenant_id, lower(display_name) text_pattern_ops);
-- Substring search.
CREATE INDEX dir_groups_name_trgm ON dir_groups USING gin (lower(display_name) gin_trgm_ops);

CREATE TABLE dir_role_definitions (
    tenant_id      uuid        NOT NULL,
    object_id      text        NOT NULL,
    display_name   text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    is_built_in    boolean     NOT NULL DEFAULT false,
    is_enabled     boolean     NOT NULL DEFAULT false,
    template_id    text        NOT NULL DEFAULT '',
    content_hash   text        NOT NULL,
    run_id         uuid        NOT NULL,
    last_synced_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);
CREATE INDEX dir_role_definitions_name_idx ON dir_role_definitions (tenant_id, lower(display_name) text_pattern_ops);
CREATE INDEX dir_role_definitions_name_trgm ON dir_role_definitions USING gin (lower(display_name) gin_trgm_ops);

-- The last complete sync of each kind per tenant.
CREATE TABLE dir_sync_state (
    tenant_id    uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('groups', 'role_definitions')),
    run_id       uuid        NOT NULL,
    synced_at    timestamptz NOT NULL,
    object_count integer     NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);
