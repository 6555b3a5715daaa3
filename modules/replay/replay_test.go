package replay_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/replay"
	"github.com/tenantatlas/ops/projections"
)

// hubRow is a run as the hub's read model (rm_runs) holds it.
type hubRow struct {
	ID          uuid.UUID
	Type        string
	Status      string
	Outcome     string
	Bucket      string
	ReasonCode  string
	Initiator   string
	QueuedAt    time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	Counts      map[string]int64
}

// TestTenantReplayAsOfEqualsReadModelAtThatTime: runs are started and moved on (one
// completed, one blocked, one running), the hub's read model is captured at T once the
// projection has caught up to the sealed log, more happens after T (the running run
// ends, a new one starts and runs), and the tenant replayed as of T from
// events alone equals the captured rows field by field; the whole-log scan agrees.
func TestTenantReplayAsOfEqualsReadModelAtThatTime(t *testing.T) {
	pool := pgtest.DB(t)
	e := monotest.New(t, pool, monotest.Options{NoWorkers: true})
	ctx := e.Ctx
	ops := e.App.Operations
	claim := func(id uuid.UUID) *operations.Run {
		run, err := ops.Claim(ctx, operations.Job{RunID: id}, "replay-test")
		require.NoError(t, err)
		require.NotNil(t, run)
		return run
	}
	accepted := func(typ, ctxJSON string) uuid.UUID {
		out := e.Start(t, typ, ctxJSON)
		require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
		return out.Run.ID
	}

	verify := accepted("provider.verify", `{}`)
	ops.Execute(ctx, claim(verify), "replay-test")
	blockedOut := e.Start(t, "drift.generate", `{"baseline":"latest"}`) // no inventory snapshots yet
	require.Equal(t, operations.StartBlocked, blockedOut.Status)
	blocked := blockedOut.Run.ID
	running := accepted("directory.groups.sync", `{}`)
	runningRun := claim(running)

	// T: after the last append before it, on a microsecond boundary (what timestamptz
	// keeps), and strictly before anything appended next.
	asOf := time.Now().Truncate(time.Microsecond)
	time.Sleep(2 * time.Millisecond) // clock separation only: later events record after T
	require.NoError(t, e.App.Store.SealCommitted(ctx))
	head, err := e.App.Store.Head(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := e.App.Runner.CatchUp(ctx, projections.HubRuns{})
		require.NoError(t, err)
		cp, err := e.App.Runner.Checkpoint(ctx, projections.HubRuns{})
		require.NoError(t, err)
		return cp >= head
	}, 30*time.Second, 10*time.Millisecond)
	captured := readModel(t, e, e.Tenant)
	require.Len(t, captured, 3)

	// After T: the running run ends, a new one starts and runs.
	ops.Execute(ctx, runningRun, "replay-test")
	ops.Execute(ctx, claim(accepted("directory.role_definitions.sync", `{}`)), "replay-test")
	require.NoError(t, e.App.Store.SealCommitted(ctx))

	got, err := replay.Tenant(ctx, e.App.Store, e.Tenant, asOf, nil)
	require.NoError(t, err)
	require.Equal(t, "Contoso", got.Name)
	require.Len(t, got.Runs, len(captured))
	byID := map[uuid.UUID]replay.RunState{}
	for _, r := range got.Runs {
		byID[r.ID] = r
	}
	states := map[uuid.UUID]string{}
	for _, want := range captured {
		r, ok := byID[want.ID]
		require.True(t, ok, "run %s missing from the replay", want.ID)
		require.Equal(t, want.Type, r.Type, "type of %s", want.ID)
		require.Equal(t, want.Status, string(r.Status), "status of %s", want.ID)
		require.Equal(t, want.Outcome, string(r.Outcome), "outcome of %s", want.ID)
		require.Equal(t, want.Bucket, r.Bucket, "bucket of %s", want.ID)
		require.Equal(t, want.ReasonCode, string(r.ReasonCode), "reason of %s", want.ID)
		require.Equal(t, want.Initiator, r.Initiator, "initiator of %s", want.ID)
		require.True(t, want.QueuedAt.Equal(r.QueuedAt), "queued at of %s: %s vs %s", want.ID, want.QueuedAt, r.QueuedAt)
		requireSameTime(t, want.StartedAt, r.StartedAt, "started at of "+want.ID.String())
		requireSameTime(t, want.CompletedAt, r.CompletedAt, "completed at of "+want.ID.String())
		counts := map[string]int64{}
		for k, v := range r.Counts {
			counts[string(k)] = int64(v)
		}
		require.Equal(t, want.Counts, counts, "counts of %s", want.ID)
		states[want.ID] = want.Bucket
	}
	// The three states the test set out to compare, and the replay is not simply "now".
	require.Equal(t, map[uuid.UUID]string{verify: "succeeded", blocked: "failed", running: "running"}, states)
	now, err := replay.Tenant(ctx, e.App.Store, e.Tenant, time.Time{}, nil)
	require.NoError(t, err)
	require.Len(t, now.Runs, 4)

	// The whole-log scan (what the tenant index replaced) sees the same.
	scan, err := replay.TenantByScan(ctx, e.App.Store, e.Tenant, asOf, nil)
	require.NoError(t, err)
	require.Equal(t, got, scan)
}

// TestReadTenantPagesTheTenantOnly: ReadTenant returns only the tenant's sealed events,
// in global order, bounded by time, and pages on from the last position.
func TestReadTenantPagesTheTenantOnly(t *testing.T) {
	pool := pgtest.DB(t)
	e := monotest.New(t, pool, monotest.Options{NoWorkers: true})
	ctx := e.Ctx
	for _, typ := range []string{"provider.verify", "drift.generate"} {
		e.Start(t, typ, `{}`) // accepted or blocked: either is a run with events
	}
	require.NoError(t, e.App.Store.SealCommitted(ctx))
	var all []eventstore.Envelope
	var pos int64
	for {
		page, err := e.App.Store.ReadTenant(ctx, e.Tenant, pos, time.Time{}, 2)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 2)
		all = append(all, page...)
		pos = page[len(page)-1].Position
	}
	require.NotEmpty(t, all)
	var want int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM es_events WHERE tenant_id = $1 AND global_position IS NOT NULL`, e.Tenant).Scan(&want))
	require.Len(t, all, want)
	for i, env := range all {
		require.Equal(t, e.Tenant, env.Metadata.TenantID)
		require.NotZero(t, env.Position)
		if i > 0 {
			require.Greater(t, env.Position, all[i-1].Position)
		}
	}
	none, err := e.App.Store.ReadTenant(ctx, e.Tenant, 0, all[0].RecordedAt.Add(-time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, none)
	var plan string
	require.NoError(t, pool.QueryRow(ctx, `EXPLAIN SELECT global_position FROM es_events
		WHERE tenant_id = $1 AND global_position IS NOT NULL AND global_position > 0 ORDER BY global_position LIMIT 10`, e.Tenant).Scan(&plan))
	require.NotContains(t, plan, "Seq Scan")
}

func requireSameTime(t *testing.T, want, got *time.Time, what string) {
	t.Helper()
	if want == nil || got == nil {
		require.True(t, want == nil && got == nil, "%s: %v vs %v", what, want, got)
		return
	}
	require.True(t, want.Equal(*got), "%s: %s vs %s", what, *want, *got)
}

func readModel(t *testing.T, e *monotest.Env, tenant uuid.UUID) []hubRow {
	t.Helper()
	rows, err := e.Pool.Query(e.Ctx, `SELECT run_id, type, status, outcome, bucket, COALESCE(reason_code, ''), initiator_name,
		queued_at, started_at, completed_at, counts FROM rm_runs WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)
	defer rows.Close()
	var out []hubRow
	for rows.Next() {
		var r hubRow
		var counts []byte
		require.NoError(t, rows.Scan(&r.ID, &r.Type, &r.Status, &r.Outcome, &r.Bucket, &r.ReasonCode, &r.Initiator,
			&r.QueuedAt, &r.StartedAt, &r.CompletedAt, &counts))
		r.Counts = map[string]int64{}
		require.NoError(t, json.Unmarshal(counts, &r.Counts))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}
