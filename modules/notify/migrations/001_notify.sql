-- The notifications inbox: one row per NotificationSent event, built from the event
-- outbox (notify.RunInbox), read by GET /api/v1/notifications.
CREATE TABLE nt_inbox (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    run_id     uuid,
    kind       text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    url        text        NOT NULL,
    created_at timestamptz NOT NULL,
    read_at    timestamptz
);
CREATE INDEX nt_inbox_user_idx ON nt_inbox (user_id, created_at DESC, id DESC);
