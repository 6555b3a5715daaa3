-- Run timeline, version 1: one row per run event, what the viewer's timeline shows.
CREATE TABLE rm_run_timeline_v1 (
    run_id         uuid        NOT NULL,
    stream_version bigint      NOT NULL,
    position       bigint      NOT NULL,
    event_type     text        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    actor          text        NOT NULL,
    summary        text        NOT NULL,
    PRIMARY KEY (run_id, stream_version)
);
CREATE VIEW rm_run_timeline AS SELECT * FROM rm_run_timeline_v1;
INSERT INTO proj_active (name, version) VALUES ('run_timeline', 1);

-- Dashboard counts, version 1: runs per tenant (or workspace, for workspace-scoped
-- runs) and status bucket, kept with a small per-run state to move a run between
-- buckets.
CREATE TABLE rm_scope_counts_v1 (
    scope_id uuid   NOT NULL,
    bucket   text   NOT NULL,
    runs     bigint NOT NULL,
    PRIMARY KEY (scope_id, bucket)
);
CREATE TABLE rm_scope_counts_runs_v1 (
    run_id   uuid  PRIMARY KEY,
    scope_id uuid  NOT NULL,
    state    jsonb NOT NULL
);
CREATE VIEW rm_scope_counts AS SELECT * FROM rm_scope_counts_v1;
CREATE VIEW rm_scope_counts_runs AS SELECT * FROM rm_scope_counts_runs_v1;
INSERT INTO proj_active (name, version) VALUES ('scope_counts', 1);
