package operations_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestSweepersAndWorkerRaceToEndARunOnce: a claimed run whose heartbeat the clock has
// made stale is ended at once by two sweepers (services of their own) and by its worker
// (the reporter's last flush in every other round, then the end of the run), each on
// connections of its own, many times over. Every time the stream has exactly one terminal event and one terminal
// notification, its versions have no gap, and the ops_runs row, the scope lock and the
// sweepers' counts agree with it.
func TestSweepersAndWorkerRaceToEndARunOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	var sweepers [2]*operations.Service
	for i := range sweepers {
		sweepers[i] = operations.New(f.pool, f.store, f.ten, audit.NewRecorder(f.store), operations.Options{Now: f.clock.Now})
	}
	// Every other round the handler reports progress, so the worker's last flush races
	// the sweepers too; otherwise the end of the run does on its own.
	var report atomic.Bool
	f.ops.Handle("inventory.sync", func(ctx context.Context, _ *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		if report.Load() {
			if err := rep.Progress(ctx, operations.Counts{"total": 1}); err != nil {
				return "", err
			}
		}
		time.Sleep(time.Duration(rand.N(300)) * time.Microsecond)
		return operations.OutcomeSucceeded, nil
	})

	const rounds = 50
	wins := map[string]int{}
	for round := range rounds {
		report.Store(round%2 == 0)
		id := f.start(t, "operator", "inventory.sync", f.tenant, `{}`).Run.ID
		run, err := f.ops.Claim(f.ctx, operations.Job{RunID: id}, "w1")
		require.NoError(t, err)
		require.NotNil(t, run)
		f.clock.Advance(heartbeatTimeout + time.Second) // the claim's heartbeat is stale now

		ready := make(chan struct{})
		var wg sync.WaitGroup
		var swept [2]int
		var sweepErr [2]error
		wg.Go(func() {
			<-ready
			f.ops.Execute(f.ctx, run, "w1")
		})
		for i, sw := range sweepers {
			wg.Go(func() {
				<-ready
				time.Sleep(time.Duration(rand.N(300)) * time.Microsecond)
				swept[i], sweepErr[i] = sw.Sweep(f.ctx)
			})
		}
		close(ready)
		wg.Wait()
		require.NoError(t, sweepErr[0])
		require.NoError(t, sweepErr[1])

		envs, err := f.ops.Events(f.ctx, id)
		require.NoError(t, err)
		var terminal []string
		notes := 0
		for i, e := range envs {
			require.Equal(t, int64(i+1), e.StreamVersion, "round %d: versions without a gap", round)
			switch e.Type {
			case "RunCompleted", "RunFailed", "RunStaleTimedOut":
				terminal = append(terminal, e.Type)
			case "NotificationSent":
				notes++
			}
		}
		require.Len(t, terminal, 1, "round %d: exactly one terminal event: %v", round, terminal)
		require.Equal(t, 2, notes, "round %d: one queued and one terminal notification", round)
		wins[terminal[0]]++
		sweptBy := swept[0] + swept[1]
		if terminal[0] == "RunStaleTimedOut" {
			require.Equal(t, 1, sweptBy, "round %d: one sweeper counts the run it ended", round)
		} else {
			require.Equal(t, "RunCompleted", terminal[0], "round %d", round)
			require.Zero(t, sweptBy, "round %d: no sweeper counts a run the worker ended", round)
		}

		final, err := f.ops.Load(f.ctx, id)
		require.NoError(t, err)
		var status, outcome string
		var completedAt time.Time
		var version int64
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT r.status, r.outcome, r.completed_at, s.version
			FROM ops_runs r JOIN es_streams s ON s.stream_id = $2 WHERE r.run_id = $1`, id, string(operations.RunStream(id))).
			Scan(&status, &outcome, &completedAt, &version))
		require.Equal(t, "completed", status, "round %d", round)
		require.Equal(t, string(final.Outcome), outcome, "round %d: the row's outcome is the stream's", round)
		require.WithinDuration(t, final.CompletedAt, completedAt, time.Microsecond, "round %d", round)
		require.Equal(t, final.Version, version, "round %d", round)
		var locks int
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_scope_locks WHERE run_id = $1`, id).Scan(&locks))
		require.Zero(t, locks, "round %d: the ended run freed its scope", round)
	}
	t.Logf("terminal events over %d rounds: %v", rounds, wins)
}

// TestTransitionGuardedByTheStreamVersion: a writer that appends to a run's stream
// without the row lock (here the test, ending the run behind the row's back) commits
// while the sweeper, holding the row lock and having read the stream, appends. The
// sweeper's append expects the version it read, gets a concurrency error, reloads,
// finds the run ended and writes nothing: one terminal event, not two.
func TestTransitionGuardedByTheStreamVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	handleAtTheGate(f, "drift.generate")
	id := f.start(t, "operator", "drift.generate", f.tenant, `{}`).Run.ID
	run, err := f.ops.Claim(f.ctx, operations.Job{RunID: id}, "w1")
	require.NoError(t, err)
	require.NotNil(t, run)
	f.clock.Advance(heartbeatTimeout + time.Second)

	tx, err := f.pool.Begin(f.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(f.ctx)) }()
	_, err = f.store.AppendTx(f.ctx, tx, operations.RunStream(id), eventstore.AnyVersion, eventstore.NewEvent{
		Data:     operations.RunCompleted{Outcome: operations.OutcomeSucceeded, CompletedAt: f.clock.Now()},
		Metadata: eventstore.Metadata{Actor: "system:test", WorkspaceID: f.workspace, TenantID: f.tenant, CorrelationID: id}})
	require.NoError(t, err)

	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := f.ops.Sweep(f.ctx)
		done <- result{n, err}
	}()
	// The sweeper holds the row lock, has read the stream and waits to append.
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%es_streams%')`).Scan(&waiting))
		return waiting
	}, 20*time.Second, 5*time.Millisecond, "the sweeper never waited to append")
	require.NoError(t, tx.Commit(f.ctx))

	res := <-done
	require.NoError(t, res.err)
	require.Zero(t, res.n, "the sweeper reloaded and found the run ended")
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted", "RunCompleted"}, f.eventTypes(t, id))
}
