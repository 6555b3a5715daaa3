-- Notifications inbox, version 1: one row per NotificationSent event, built by the
-- projection runner from the log (it replaces notify's outbox-fed nt_inbox).
CREATE TABLE rm_notifications_v1 (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    run_id     uuid,
    kind       text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    url        text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX rm_notifications_v1_user_idx ON rm_notifications_v1 (user_id, created_at DESC, id DESC);
CREATE VIEW rm_notifications AS SELECT * FROM rm_notifications_v1;
INSERT INTO proj_active (name, version) VALUES ('notifications', 1);
