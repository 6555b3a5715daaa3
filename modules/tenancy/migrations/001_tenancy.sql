-- Tenancy: workspaces, managed tenants, users, memberships, API tokens and provider
-- connections. Only modules/tenancy writes these tables, and every write appends its
-- event in the same transaction. Secrets never live here: users keep a bcrypt hash,
-- API tokens a SHA-256 hash, provider connections a reference to where the secret is.

CREATE TABLE tn_workspaces (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL,
    CONSTRAINT tn_workspaces_name_key UNIQUE (name)
);

CREATE TABLE tn_tenants (
    id                 uuid        PRIMARY KEY,
    workspace_id       uuid        NOT NULL REFERENCES tn_workspaces (id),
    name               text        NOT NULL CHECK (name <> ''),
    external_tenant_id text        NOT NULL CHECK (external_tenant_id <> ''),
    created_at         timestamptz NOT NULL,
    CONSTRAINT tn_tenants_workspace_name_key UNIQUE (workspace_id, name),
    -- The target of tn_memberships' composite foreign key: a tenant-level membership
    -- must name the tenant's own workspace.
    CONSTRAINT tn_tenants_id_workspace_key UNIQUE (id, workspace_id)
);

CREATE TABLE tn_users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL CHECK (email <> '' AND email = lower(email)),
    display_name  text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT tn_users_email_key UNIQUE (email)
);

-- A membership gives a user a role on a whole workspace (tenant_id NULL) or on one of
-- its tenants. NULLS NOT DISTINCT: at most one workspace-level row per user and
-- workspace. The unique index also serves every authorization lookup (by user_id).
CREATE TABLE tn_memberships (
    user_id      uuid        NOT NULL REFERENCES tn_users (id),
    workspace_id uuid        NOT NULL REFERENCES tn_workspaces (id),
    tenant_id    uuid,
    role         text        NOT NULL CHECK (role IN ('owner', 'manager', 'operator', 'readonly', 'compliance')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT tn_memberships_key UNIQUE NULLS NOT DISTINCT (user_id, workspace_id, tenant_id),
    CONSTRAINT tn_memberships_tenant_fkey FOREIGN KEY (tenant_id, workspace_id)
        REFERENCES tn_tenants (id, workspace_id)
);

-- API tokens: only the SHA-256 of the bearer token is kept; lookup is by that hash.
CREATE TABLE tn_api_tokens (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES tn_users (id),
    name       text        NOT NULL CHECK (name <> ''),
    token_hash bytea       NOT NULL CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT tn_api_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX tn_api_tokens_user_idx ON tn_api_tokens (user_id);

-- Provider connections: how the platform reaches a tenant's Microsoft Graph.
-- secret_ref names where the client secret is kept (environment, file); never the secret.
CREATE TABLE tn_provider_connections (
    id              uuid        PRIMARY KEY,
    tenant_id       uuid        NOT NULL REFERENCES tn_tenants (id),
    provider        text        NOT NULL CHECK (provider <> ''),
    display_name    text        NOT NULL CHECK (display_name <> ''),
    is_default      boolean     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('ok', 'consent_missing', 'permission_denied', 'disabled')),
    status_reason   text        NOT NULL DEFAULT '',
    entra_tenant_id text        NOT NULL,
    client_id       text        NOT NULL,
    secret_ref      text        NOT NULL DEFAULT '',
    graph_base_url  text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX tn_provider_connections_tenant_idx ON tn_provider_connections (tenant_id);
-- At most one default connection per tenant.
CREATE UNIQUE INDEX tn_provider_connections_default_key ON tn_provider_connections (tenant_id) WHERE is_default;
