-- Platform users: the operators of the /system panel, apart from workspace users (no
-- membership, no API token, their own sign-in and session cookie). capabilities is a set
-- of the platform capabilities (platform.go); break_glass marks a user who must give a
-- reason for every runbook run. session_version and disabled_at work as on tn_users.
CREATE TABLE tn_platform_users (
    id              uuid        PRIMARY KEY,
    email           text        NOT NULL CHECK (email <> '' AND email = lower(email)),
    name            text        NOT NULL CHECK (name <> ''),
    password_hash   text        NOT NULL,
    capabilities    text[]      NOT NULL DEFAULT '{}' CHECK (capabilities <@ ARRAY[
        'platform.ops.view', 'platform.runbooks.view', 'platform.runbooks.run',
        'platform.runbooks.findings.lifecycle_backfill']::text[]),
    break_glass     boolean     NOT NULL DEFAULT false,
    session_version bigint      NOT NULL DEFAULT 1 CHECK (session_version > 0),
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL,
    CONSTRAINT tn_platform_users_email_key UNIQUE (email)
);
