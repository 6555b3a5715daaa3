-- The claim (worker.go, claimQueued) takes the oldest queued runs in (queued_at, run_id)
-- order. Migration 002 dropped the index by queued time, reasoning that the sweeper
-- reaches queued runs through the active-identity index; but the claim then read every
-- active run and sorted them, and with a backlog (starts coming faster than the workers
-- end runs) every claim grew slower with it: 24,615 queued runs cost 9.9 ms a claim, and
-- at 500 starts/s the claims averaged 49 ms after 40 s. In this order a claim reads the
-- few it takes. Only a start adds an entry (a claimed run leaves the predicate).
CREATE INDEX ops_runs_queued_order_idx ON ops_runs (queued_at, run_id) WHERE status = 'queued';
