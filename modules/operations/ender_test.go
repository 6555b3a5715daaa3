package operations_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// transactionsOf counts the distinct transactions that wrote the events of type typ of
// the runs ids.
func transactionsOf(t *testing.T, f *fixture, typ string, ids []uuid.UUID) int {
	t.Helper()
	streams := make([]string, len(ids))
	for i, id := range ids {
		streams[i] = string(operations.RunStream(id))
	}
	var n int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(DISTINCT transaction_id::text) FROM es_events
		WHERE stream_id = ANY($1) AND event_type = $2`, streams, typ).Scan(&n))
	return n
}

// TestRunsClaimedAndEndedInBatches: 40 runs queued before the worker starts are claimed
// in one transaction, and ending together (the handlers wait for one another) they
// share end transactions; every run still gets exactly its own events (its progress,
// its end, its notification), in order, and its row and scope lock agree.
func TestRunsClaimedAndEndedInBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	const n = 40
	var running atomic.Int32
	f.ops.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		running.Add(1)
		for running.Load() < n && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		var i int
		fmt.Sscanf(string(run.Context), `{"baseline":"%d"}`, &i)
		switch i % 3 {
		case 1:
			return operations.OutcomeSucceeded, rep.Progress(ctx, operations.Counts{"total": 1, "processed": 1, "succeeded": 1})
		case 2:
			return "", &operations.RunError{Code: operations.ReasonGraphRequestFailed, Message: "planted"}
		}
		return operations.OutcomeSucceeded, nil
	})
	ids := make([]uuid.UUID, n)
	for i := range ids {
		out := f.start(t, "operator", "drift.generate", f.tenant, fmt.Sprintf(`{"baseline":"%d"}`, i))
		require.Equal(t, operations.StartAccepted, out.Status)
		ids[i] = out.Run.ID
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.ops.RunWorkers(ctx, operations.WorkerOptions{Concurrency: n, PollInterval: 10 * time.Millisecond})
	}()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	for i, id := range ids {
		run := waitTerminal(t, f, id)
		want := []string{"RunQueued", "NotificationSent", "RunStarted", "RunCompleted", "NotificationSent"}
		switch i % 3 {
		case 1:
			want = []string{"RunQueued", "NotificationSent", "RunStarted", "RunProgressed", "RunCompleted", "NotificationSent"}
			require.Equal(t, operations.Counts{"total": 1, "processed": 1, "succeeded": 1}, run.Counts)
			require.Equal(t, operations.OutcomeSucceeded, run.Outcome)
		case 2:
			want = []string{"RunQueued", "NotificationSent", "RunStarted", "RunFailed", "NotificationSent"}
			require.Equal(t, operations.OutcomeFailed, run.Outcome)
			require.Equal(t, operations.ReasonGraphRequestFailed, run.ReasonCode)
		default:
			require.Equal(t, operations.OutcomeSucceeded, run.Outcome)
		}
		require.Equal(t, want, f.eventTypes(t, id), "run %d", i)
	}
	require.Equal(t, 1, transactionsOf(t, f, "RunStarted", ids), "40 queued runs and 40 free slots: one claim")
	ends := transactionsOf(t, f, "RunCompleted", ids) + transactionsOf(t, f, "RunFailed", ids)
	// How many share depends on the scheduler (a loaded CI machine spreads the 40
	// handlers' returns); one transaction a run would be 40.
	require.Less(t, ends, n, "runs ending together share their end transactions")
	batched, failed := operations.EndStats(f.ops)
	require.Positive(t, batched)
	require.Zero(t, failed)
	t.Logf("40 ends in %d transactions, %d of them in batches of two or more", ends, batched)
	var rows, locks int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FILTER (WHERE status = 'completed' AND completed_at IS NOT NULL),
		(SELECT count(*) FROM ops_scope_locks WHERE run_id = ANY($1)) FROM ops_runs WHERE run_id = ANY($1)`, ids).Scan(&rows, &locks))
	require.Equal(t, n, rows)
	require.Zero(t, locks)
}

// TestBadEndFailsAlone: a batch of 20 ends of which one cannot be decided fails as a
// transaction; its ends are then written one by one, so the 19 good runs complete (in
// transactions of their own) and only the bad one returns its error and stays running.
// A batch of good ends alone commits in one transaction.
func TestBadEndFailsAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	claim := func(n, from int) []uuid.UUID {
		ids := make([]uuid.UUID, n)
		for i := range ids {
			ids[i] = f.start(t, "operator", "drift.generate", f.tenant, fmt.Sprintf(`{"baseline":"%d"}`, from+i)).Run.ID
			run, err := f.ops.Claim(f.ctx, operations.Job{RunID: ids[i]}, "w1")
			require.NoError(t, err)
			require.NotNil(t, run)
		}
		return ids
	}

	good := claim(20, 0)
	errs, err := operations.EndTogether(f.ops, good, uuid.Nil)
	require.NoError(t, err)
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, transactionsOf(t, f, "RunCompleted", good))
	batched, failed := operations.EndStats(f.ops)
	require.Equal(t, int64(20), batched)
	require.Zero(t, failed)

	ids := claim(20, 100)
	bad := ids[7]
	errs, err = operations.EndTogether(f.ops, ids, bad)
	require.NoError(t, err)
	for i, err := range errs {
		run, lerr := f.ops.Load(f.ctx, ids[i])
		require.NoError(t, lerr)
		if ids[i] == bad {
			require.ErrorContains(t, err, "a planted failure")
			require.Equal(t, operations.StatusRunning, run.Status)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, operations.OutcomeSucceeded, run.Outcome)
	}
	require.Equal(t, 19, transactionsOf(t, f, "RunCompleted", ids), "after the batch failed, each end went alone")
	_, failed = operations.EndStats(f.ops)
	require.Equal(t, int64(1), failed)
}
