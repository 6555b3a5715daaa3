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

// holdKeys opens a transaction that holds the advisory locks of keys, as a start of
// that identity does until it commits; release rolls it back.
func holdKeys(t *testing.T, f *fixture, keys ...string) (release func()) {
	t.Helper()
	tx, err := f.pool.Begin(f.ctx)
	require.NoError(t, err)
	require.NoError(t, operations.HoldKeys(f.ctx, tx, keys...))
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) }) // pgx.ErrTxClosed once released
	return func() { require.NoError(t, tx.Rollback(f.ctx)) }
}

// sweepAsync sweeps on a goroutine of its own and hands over how many runs it ended.
func sweepAsync(t *testing.T, f *fixture) <-chan int {
	swept := make(chan int, 1)
	go func() {
		n, err := f.ops.Sweep(f.ctx)
		if err != nil {
			t.Errorf("sweep: %v", err)
		}
		swept <- n
	}()
	return swept
}

// waitForLockWaiter waits (bounded) until a backend of this test's database waits for
// an advisory lock.
func waitForLockWaiter(t *testing.T, f *fixture, what string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n))
		return n > 0
	}, 10*time.Second, 5*time.Millisecond, "%s never waited for the identity lock", what)
}

func identityOf(t *testing.T, f *fixture, id uuid.UUID) string {
	t.Helper()
	var h string
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT identity_hash FROM ops_runs WHERE run_id = $1`, id).Scan(&h))
	return h
}

func statusOf(t *testing.T, f *fixture, id uuid.UUID) string {
	t.Helper()
	var s string
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT status FROM ops_runs WHERE run_id = $1`, id).Scan(&s))
	return s
}

// TestStartsAndEndsOfOneIdentityTakeTurns: a start and every end that frees an
// identity (the worker's, the sweeper's) take the identity's lock before they write,
// so whoever comes second waits for the first to commit and takes the later
// transaction id: the log never shows a start sealed before the end that let it in
// (order.go). Each side is held by a transaction holding the lock, and must wait.
func TestStartsAndEndsOfOneIdentityTakeTurns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	finish := make(chan struct{})
	f.ops.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		select {
		case <-finish:
		case <-ctx.Done():
		}
		return operations.OutcomeSucceeded, nil
	})
	const ctxJSON = `{"baseline":"order"}`
	first := f.start(t, "operator", "drift.generate", f.tenant, ctxJSON)
	require.Equal(t, operations.StartAccepted, first.Status)
	identity := identityOf(t, f, first.Run.ID)
	wctx, stopWorkers := context.WithCancel(f.ctx)
	workersDone := make(chan error, 1)
	go func() {
		workersDone <- f.ops.RunWorkers(wctx, operations.WorkerOptions{WorkerID: "w", Concurrency: 2, PollInterval: 10 * time.Millisecond})
	}()
	t.Cleanup(func() { stopWorkers(); <-workersDone })
	require.Eventually(t, func() bool { return statusOf(t, f, first.Run.ID) == "running" }, 10*time.Second, 5*time.Millisecond)

	// A start waits while an end of its identity is in flight.
	release := holdKeys(t, f, identity)
	answered := make(chan operations.StartOutcome, 1)
	go func() {
		out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.tenant, Context: []byte(ctxJSON),
			Initiator: f.initiator("operator"), SourceSurface: "test"})
		if err != nil {
			t.Errorf("start: %v", err)
		}
		answered <- out
	}()
	waitForLockWaiter(t, f, "the start")
	require.Empty(t, answered, "the start was answered while the identity's lock was held")
	release()
	require.Equal(t, operations.StartDeduped, (<-answered).Status, "the run still holds the identity")

	// The worker's end waits while a start of its identity is in flight.
	release = holdKeys(t, f, identity)
	close(finish)
	waitForLockWaiter(t, f, "the worker's end")
	require.Equal(t, "running", statusOf(t, f, first.Run.ID))
	release()
	require.Equal(t, operations.OutcomeSucceeded, waitTerminal(t, f, first.Run.ID).Outcome)
	stopWorkers()
	require.NoError(t, <-workersDone)
	workersDone <- nil

	// The sweeper's end too (no worker claims the runs from here on).
	queued := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, queued.Status)
	f.clock.Advance(16 * time.Minute)
	release = holdKeys(t, f, identityOf(t, f, queued.Run.ID))
	swept := sweepAsync(t, f)
	waitForLockWaiter(t, f, "the sweeper")
	require.Equal(t, "queued", statusOf(t, f, queued.Run.ID))
	release()
	require.Equal(t, 1, <-swept)

	// The lock of a run's scope is taken as well: the sweeper waits for a holder of the
	// scope of a provider-backed run alone.
	var scope string
	prov := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, prov.Status)
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT scope_key FROM ops_scope_locks WHERE run_id = $1`, prov.Run.ID).Scan(&scope))
	release = holdKeys(t, f, scope)
	f.clock.Advance(16 * time.Minute)
	swept = sweepAsync(t, f)
	waitForLockWaiter(t, f, "the sweeper freeing a scope")
	release()
	require.Equal(t, 1, <-swept)
}
