-- Saved views of the hub's run lists (issue 13): a user's named operations-list URLs
-- (path and filters). User data written by the hub, not a read model of the log: no
-- projection writes it and rebuilds leave it alone. Saving a name again replaces its URL.
CREATE TABLE IF NOT EXISTS saved_views (
    user_id    uuid        NOT NULL,
    name       text        NOT NULL,
    url        text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, name)
);
