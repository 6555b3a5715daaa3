package operations_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// The fixture's sweeper bounds (the defaults).
const (
	queuedTimeout    = 15 * time.Minute
	heartbeatTimeout = 2 * time.Minute
)

// sweep runs the sweeper once and returns how many runs it ended.
func (f *fixture) sweep(t *testing.T) int {
	t.Helper()
	n, err := f.ops.Sweep(f.ctx)
	require.NoError(t, err)
	return n
}

// reason is a run's status and reason code.
func (f *fixture) reason(t *testing.T, id uuid.UUID) (operations.Status, operations.ReasonCode) {
	t.Helper()
	r, err := f.ops.Load(f.ctx, id)
	require.NoError(t, err)
	return r.Status, r.ReasonCode
}

// TestSweeperRulesApartAndAtTheirBounds walks the injected clock across each rule's
// bound, a microsecond at a time: a queued run is swept (stale_queued_timeout) only
// past the queued timeout, a running run (worker_lost) only once its last heartbeat is
// past the heartbeat timeout; a running run that was queued long ago is not swept by
// the queued rule, and a run whose worker still beats is left alone.
func TestSweeperRulesApartAndAtTheirBounds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	handleAtTheGate(f, "drift.generate", "inventory.sync")
	queued := f.start(t, "operator", "drift.generate", f.tenant, `{}`).Run.ID // queued at T0
	lost := f.start(t, "operator", "drift.generate", f.bare, `{}`).Run.ID     // queued at T0
	beating := f.start(t, "operator", "inventory.sync", f.tenant, `{}`).Run.ID

	// T0+14m: two runs are claimed (heartbeat T0+14m); they were queued 14 minutes.
	f.clock.Advance(14 * time.Minute)
	for _, id := range []uuid.UUID{lost, beating} {
		run, err := f.ops.Claim(f.ctx, operations.Job{RunID: id}, "w1")
		require.NoError(t, err)
		require.NotNil(t, run)
	}

	// T0+15m-1µs, then exactly T0+15m: the queued run is not past its timeout yet.
	f.clock.Advance(time.Minute - time.Microsecond)
	require.Zero(t, f.sweep(t), "a queued run just under the queued timeout is left alone")
	f.clock.Advance(time.Microsecond)
	require.Zero(t, f.sweep(t), "a queued run exactly at the queued timeout is left alone")

	// T0+15m+1µs: only the queued run goes; the running runs, queued as long, stay.
	f.clock.Advance(time.Microsecond)
	require.Equal(t, 1, f.sweep(t))
	st, code := f.reason(t, queued)
	require.Equal(t, operations.StatusCompleted, st)
	require.Equal(t, operations.ReasonStaleQueuedTimeout, code)
	for _, id := range []uuid.UUID{lost, beating} {
		st, _ := f.reason(t, id)
		require.Equal(t, operations.StatusRunning, st, "the queued rule does not touch a running run")
	}

	// T0+15m30s: the worker of one run beats.
	f.clock.Advance(30*time.Second - time.Microsecond)
	_, err := f.pool.Exec(f.ctx, `UPDATE ops_runs SET heartbeat_at = $2 WHERE run_id = $1 AND status = 'running'`, beating, f.clock.Now())
	require.NoError(t, err)

	// T0+16m-1µs, exactly T0+16m: the silent run's heartbeat is not past the bound yet.
	f.clock.Advance(30*time.Second - time.Microsecond)
	require.Zero(t, f.sweep(t), "a heartbeat just under the bound is recent")
	f.clock.Advance(time.Microsecond)
	require.Zero(t, f.sweep(t), "a heartbeat exactly at the bound is recent")

	// T0+16m+1µs: the silent run is lost; the beating one is left alone.
	f.clock.Advance(time.Microsecond)
	require.Equal(t, 1, f.sweep(t))
	st, code = f.reason(t, lost)
	require.Equal(t, operations.StatusCompleted, st)
	require.Equal(t, operations.ReasonWorkerLost, code)
	st, _ = f.reason(t, beating)
	require.Equal(t, operations.StatusRunning, st, "a running run with a recent heartbeat is left alone")

	// Its bound is its own heartbeat plus the timeout.
	f.clock.Advance(heartbeatTimeout - 30*time.Second - time.Microsecond)
	require.Zero(t, f.sweep(t))
	f.clock.Advance(2 * time.Microsecond)
	require.Equal(t, 1, f.sweep(t))
	_, code = f.reason(t, beating)
	require.Equal(t, operations.ReasonWorkerLost, code)
	require.Zero(t, f.sweep(t), "an ended run is not swept twice")
}

// TestSweeperRechecksUnderTheRowLock: a run that was a candidate when the sweeper
// scanned, but was claimed (queued rule) or heart-beat (running rule) before the
// sweeper got its row lock, is not swept. The test holds the row lock itself, lets the
// sweeper block on it, makes the run fresh in that transaction and commits.
func TestSweeperRechecksUnderTheRowLock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		claimed bool   // the run is running (else queued) when the sweeper scans
		fresh   string // what the worker does meanwhile
	}{
		{"queued run claimed meanwhile", false,
			`UPDATE ops_runs SET status = 'running', started_at = $2, heartbeat_at = $2, worker_id = 'w2' WHERE run_id = $1 AND status = 'queued'`},
		{"running run heart-beat meanwhile", true,
			`UPDATE ops_runs SET heartbeat_at = $2 WHERE run_id = $1 AND status = 'running'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, pgtest.Fresh(t))
			handleAtTheGate(f, "drift.generate")
			id := f.start(t, "operator", "drift.generate", f.tenant, `{}`).Run.ID
			if tc.claimed {
				run, err := f.ops.Claim(f.ctx, operations.Job{RunID: id}, "w1")
				require.NoError(t, err)
				require.NotNil(t, run)
			}
			f.clock.Advance(queuedTimeout + time.Minute) // stale by either rule

			tx, err := f.pool.Begin(f.ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(context.WithoutCancel(f.ctx)) }()
			var locked bool
			require.NoError(t, tx.QueryRow(f.ctx, `SELECT true FROM ops_runs WHERE run_id = $1 FOR UPDATE`, id).Scan(&locked))

			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := f.ops.Sweep(f.ctx)
				done <- result{n, err}
			}()
			// The sweeper has its candidate and waits for the row lock.
			require.Eventually(t, func() bool {
				var waiting bool
				require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%')`).Scan(&waiting))
				return waiting
			}, 20*time.Second, 5*time.Millisecond, "the sweeper never waited for the row lock")
			_, err = tx.Exec(f.ctx, tc.fresh, id, f.clock.Now())
			require.NoError(t, err)
			require.NoError(t, tx.Commit(f.ctx))

			res := <-done
			require.NoError(t, res.err)
			require.Zero(t, res.n, "the re-check under the lock sees the fresh run")
			var status string
			require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT status FROM ops_runs WHERE run_id = $1`, id).Scan(&status))
			require.Equal(t, "running", status)
			var stale int
			require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_events WHERE stream_id = $1 AND event_type = 'RunStaleTimedOut'`,
				string(operations.RunStream(id))).Scan(&stale))
			require.Zero(t, stale)
		})
	}
}
