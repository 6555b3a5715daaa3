-- Sessions and sign-in hardening.
--
-- session_version is embedded in every hub session cookie and compared on each request:
-- logout, a password change and disabling the user bump it, which ends every session of
-- that user at once. A disabled user (disabled_at set) cannot sign in, has no session and
-- no working API token.
ALTER TABLE tn_users
    ADD COLUMN session_version bigint NOT NULL DEFAULT 1 CHECK (session_version > 0),
    ADD COLUMN disabled_at     timestamptz;

-- Failed sign-ins per key ("ip:<address>" or "email:<normalized email>") in a fixed
-- window that starts at the key's first failure: operational counters shared by every
-- process, not state (no event is appended for them). failures counts the attempts that
-- were let through to bcrypt and did not succeed; refused counts the attempts turned away
-- while the key was at its limit. Rows whose window has passed are deleted as new
-- failures come in, so the table stays as small as the last minute's traffic.
CREATE TABLE tn_login_throttle (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL CHECK (failures >= 0),
    refused      integer     NOT NULL DEFAULT 0 CHECK (refused >= 0)
);
CREATE INDEX tn_login_throttle_window_idx ON tn_login_throttle (window_start);
