-- Run links, version 1: which runs linked which object (RunLinked: kind, object id), for
-- the "Runs" table of an object's hub page (a snapshot, a backup set, a drift report, a
-- tenant's group cache). One row per (kind, object, run): the first time the run linked
-- it. The page's query walks (kind, object_id) newest first.
CREATE TABLE IF NOT EXISTS rm_run_links_v1 (
    kind      text        NOT NULL,
    object_id uuid        NOT NULL,
    run_id    uuid        NOT NULL,
    linked_at timestamptz NOT NULL,
    position  bigint      NOT NULL,
    PRIMARY KEY (kind, object_id, run_id)
);
CREATE INDEX IF NOT EXISTS rm_run_links_v1_object_idx ON rm_run_links_v1 (kind, object_id, linked_at DESC, run_id DESC);
CREATE OR REPLACE VIEW rm_run_links AS SELECT * FROM rm_run_links_v1;
INSERT INTO proj_active (name, version) VALUES ('run_links', 1) ON CONFLICT DO NOTHING;
