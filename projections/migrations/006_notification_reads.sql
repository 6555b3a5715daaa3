-- Read state of the notifications inbox: which user has read which notification, and
-- when. It is user data written by the hub (mark read, mark all read), not a read model
-- of the log: no projection writes it, rebuilds leave it alone (a notification's id comes
-- from its NotificationSent event, so it survives a rebuild of rm_notifications).
CREATE TABLE IF NOT EXISTS inbox_reads (
    user_id         uuid        NOT NULL,
    notification_id uuid        NOT NULL,
    read_at         timestamptz NOT NULL,
    PRIMARY KEY (user_id, notification_id)
);
