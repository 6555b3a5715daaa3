-- What each projection's Apply runs. {{table}} is the table a batch goes to: the live
-- table of the projection's version, or its shadow copy during a rebuild
-- (sqlfile.PerTable: the text per table is built once).

-- name: HubRunsLoad
SELECT run_id, type, workspace_id, tenant_id, status, outcome, reason_code,
	initiator_user_id, initiator_name, queued_at, started_at, completed_at, counts
FROM {{table}} WHERE run_id = ANY($1);

-- name: HubRunsUpsert
-- $16 is the runs' contexts (NULL when the batch did not carry the run's RunQueued: a
-- row keeps the context it has).
INSERT INTO {{table}} (run_id, type, workspace_id, tenant_id, status, outcome, bucket, reason_code,
	initiator_user_id, initiator_name, queued_at, started_at, completed_at, counts, position, context)
SELECT v.run_id, v.type, v.workspace_id, v.tenant_id, v.status, v.outcome, v.bucket, v.reason_code,
	v.initiator_user_id, v.initiator_name, v.queued_at, v.started_at, v.completed_at, v.counts::jsonb, v.position, v.context::jsonb
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::uuid[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::text[], $15::bigint[], $16::text[])
	AS v(run_id, type, workspace_id, tenant_id, status, outcome, bucket, reason_code,
	initiator_user_id, initiator_name, queued_at, started_at, completed_at, counts, position, context)
ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, outcome = EXCLUDED.outcome,
	bucket = EXCLUDED.bucket, reason_code = EXCLUDED.reason_code, started_at = EXCLUDED.started_at,
	completed_at = EXCLUDED.completed_at, counts = EXCLUDED.counts, position = EXCLUDED.position,
	context = COALESCE(EXCLUDED.context, {{table}}.context);

-- name: NotifyRunChanges
-- $1 the channel (RunChangedChannel), $2 the payloads.
SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p;

-- name: LegacyRunsUpsert
-- A row mapped to its run (linked or imported); history fields a LegacyRunRecorded
-- wrote stay.
INSERT INTO {{table}} (legacy_table, legacy_id, operation_run_id, imported, recorded_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (legacy_table, legacy_id) DO UPDATE
SET operation_run_id = EXCLUDED.operation_run_id, imported = EXCLUDED.imported, recorded_at = EXCLUDED.recorded_at;

-- name: LegacyRunsRecord
-- A row kept as history only (LegacyRunRecorded): its fields, no run; a mapping an
-- earlier event made stays.
INSERT INTO {{table}} (legacy_table, legacy_id, operation_run_id, imported, recorded_at, workspace_id, tenant_id,
	status, started_at, finished_at, counts, error, claimed_run_id, unmapped)
VALUES ($1, $2, NULL, false, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (legacy_table, legacy_id) DO UPDATE
SET workspace_id = EXCLUDED.workspace_id, tenant_id = EXCLUDED.tenant_id, status = EXCLUDED.status,
	started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, counts = EXCLUDED.counts,
	error = EXCLUDED.error, claimed_run_id = EXCLUDED.claimed_run_id, unmapped = EXCLUDED.unmapped;

-- name: NotificationsInsert
INSERT INTO {{table}} (id, user_id, run_id, kind, title, body, url, created_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
ON CONFLICT (id) DO NOTHING;

-- name: ScopeCountsLoadStates
-- {{table}} is rm_scope_counts_runs (a run's last state and scope).
SELECT run_id, scope_id, state, col FROM {{table}} WHERE run_id = ANY($1);

-- The batch's moves, one statement a table, each key once (the deltas summed in Go:
-- ON CONFLICT DO UPDATE cannot touch a row twice in one statement).

-- name: ScopeCountsMove
-- {{table}} is rm_scope_counts: adds $3[i] runs to scope $1[i]'s bucket $2[i].
INSERT INTO {{table}} (scope_id, bucket, runs)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])
ON CONFLICT (scope_id, bucket) DO UPDATE SET runs = {{table}}.runs + EXCLUDED.runs;

-- name: ScopeCountsSaveState
-- {{table}} is rm_scope_counts_runs: each run's state, scope, queued time and column.
INSERT INTO {{table}} (run_id, scope_id, state, queued_at, col)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[], $4::timestamptz[], $5::text[])
ON CONFLICT (run_id) DO UPDATE SET state = EXCLUDED.state, col = EXCLUDED.col;

-- name: ScopeCountsHourMove
-- {{table}} is rm_scope_hours: adds $4[i] runs to scope $1[i]'s queued hour $2[i], column $3[i].
INSERT INTO {{table}} (scope_id, hour, col, runs)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::bigint[])
ON CONFLICT (scope_id, hour, col) DO UPDATE SET runs = {{table}}.runs + EXCLUDED.runs;

-- name: ScopeCountsFinished
-- {{table}} is rm_scope_finished: $3[i] more runs of scope $1[i] finished in hour $2[i].
INSERT INTO {{table}} (scope_id, hour, runs)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[])
ON CONFLICT (scope_id, hour) DO UPDATE SET runs = {{table}}.runs + EXCLUDED.runs;

-- name: ScopeCountsHourDeleteEmpty
-- {{table}} is rm_scope_hours.
DELETE FROM {{table}} WHERE runs = 0;

-- name: ScopeCountsDeleteEmpty
-- {{table}} is rm_scope_counts.
DELETE FROM {{table}} WHERE runs = 0;

-- name: TimelineInsert
-- A batch's run events, one row each.
INSERT INTO {{table}} (run_id, stream_version, position, event_type, recorded_at, actor, summary)
SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
ON CONFLICT DO NOTHING;

-- name: AuditLogInsert
-- {{table}} is rm_audit_log: a batch of AuditRecorded events, one row per position.
INSERT INTO {{table}} (position, entry_id, action, outcome, actor, workspace_id, tenant_id, target, before, after,
    ip, user_agent, reason, recorded_at, hash, chain_hash)
SELECT p, i, ac, o, a, w, t, tg, b::json, af::json, ip, ua, r, at, h, c
FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::uuid[], $8::text[],
    $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::bytea[], $16::bytea[])
    AS u(p, i, ac, o, a, w, t, tg, b, af, ip, ua, r, at, h, c)
ON CONFLICT (position) DO NOTHING;
-- name: RunLinksInsert
-- The first link of a (kind, object, run) stays: a run linking an object again does not
-- move it.
INSERT INTO {{table}} (kind, object_id, run_id, linked_at, position)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::bigint[])
ON CONFLICT (kind, object_id, run_id) DO NOTHING;
