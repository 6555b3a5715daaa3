-- A connection whose app credentials Graph refused (unknown client, wrong secret,
-- unreadable secret reference) is recorded as such, so the gate blocks the next
-- provider-backed start instead of admitting a run that can only fail.
ALTER TABLE tn_provider_connections DROP CONSTRAINT tn_provider_connections_status_check;
ALTER TABLE tn_provider_connections ADD CONSTRAINT tn_provider_connections_status_check
    CHECK (status IN ('ok', 'consent_missing', 'permission_denied', 'invalid_credentials', 'disabled'));
