package operations_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// runWorkers runs the watermill workers of f until the test ends.
func runWorkers(t *testing.T, f *fixture) {
	t.Helper()
	ctx, cancel := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		err := f.ops.RunWorkers(ctx, operations.WorkerOptions{WorkerID: "test-worker", Concurrency: 4, PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Errorf("workers: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitTerminal waits until the run has ended and returns it.
func waitTerminal(t *testing.T, f *fixture, id uuid.UUID) *operations.Run {
	t.Helper()
	var run *operations.Run
	require.Eventually(t, func() bool {
		var err error
		run, err = f.ops.Load(f.ctx, id)
		require.NoError(t, err)
		return run.Terminal()
	}, 30*time.Second, 10*time.Millisecond, "run %s never ended", id)
	return run
}

// TestWorkerRunsTheHandler proves the dispatch path with a test-only handler: the job
// is delivered through watermill, the worker appends RunStarted, batched progress and
// failures, then RunCompleted, and the initiator (only) gets the terminal notification.
func TestWorkerRunsTheHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t), func(o *operations.Options) { o.FlushEvery = 50 })
	f.ops.Handle("inventory.sync", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		require.NoError(t, rep.Progress(ctx, operations.Counts{"total": 120}))
		for i := range 120 {
			if i%40 == 39 {
				if err := rep.Fail(ctx, operations.ReasonGraphRequestFailed, "policy "+uuid.NewString()+" failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"); err != nil {
					return "", err
				}
				continue
			}
			if err := rep.Progress(ctx, operations.Counts{"processed": 1, "succeeded": 1}); err != nil {
				return "", err
			}
		}
		return operations.OutcomeSucceeded, nil
	})
	runWorkers(t, f)

	out := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	run := waitTerminal(t, f, out.Run.ID)
	require.Equal(t, operations.OutcomePartiallySucceeded, run.Outcome, "item failures make the run partial")
	require.Equal(t, operations.BucketPartiallySucceeded, run.Bucket())
	require.Equal(t, operations.Counts{"total": 120, "processed": 117, "succeeded": 117}, run.Counts)
	require.Len(t, run.Failures, 3)
	for _, fl := range run.Failures {
		require.Equal(t, operations.ReasonGraphRequestFailed, fl.ReasonCode)
		require.NotContains(t, fl.Message, "eyJ", "tokens never reach a failure")
	}
	types := f.eventTypes(t, out.Run.ID)
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted"}, types[:3])
	require.Equal(t, []string{"RunCompleted", "NotificationSent"}, types[len(types)-2:])
	require.Less(t, len(types), 12, "progress is batched, not one event per item: %v", types)

	runInbox(t, f)
	notes := waitNotes(t, f, f.users["operator"].ID, 2)
	require.Equal(t, "run.terminal", notes[0].Kind)
	require.Equal(t, out.Run.URL, notes[0].URL)
	require.Equal(t, "run.queued", notes[1].Kind)

	// The scope is free again.
	require.Equal(t, operations.StartAccepted, f.start(t, "operator", "directory.groups.sync", f.tenant, `{}`).Status)
}

// TestRunEndsInOneCommit: the progress a handler reported after its last flush and the
// run's end are one append in one transaction, with the same events (and so the same
// run) a flush followed by a separate end would write.
func TestRunEndsInOneCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	f.ops.Handle("inventory.sync", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		if err := rep.Progress(ctx, operations.Counts{"total": 3, "processed": 3, "succeeded": 2}); err != nil {
			return "", err
		}
		return operations.OutcomeSucceeded, rep.Fail(ctx, operations.ReasonGraphRequestFailed, "one item failed")
	})
	runWorkers(t, f)

	out := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	run := waitTerminal(t, f, out.Run.ID)
	require.Equal(t, operations.OutcomePartiallySucceeded, run.Outcome)
	require.Equal(t, operations.Counts{"total": 3, "processed": 3, "succeeded": 2}, run.Counts)
	require.Len(t, run.Failures, 1)
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted", "RunProgressed", "RunFailuresAppended", "RunCompleted", "NotificationSent"},
		f.eventTypes(t, out.Run.ID))
	var txs int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(DISTINCT transaction_id::text) FROM es_events
		WHERE stream_id = $1 AND stream_version > 3`, string(operations.RunStream(out.Run.ID))).Scan(&txs))
	require.Equal(t, 1, txs, "the last progress and the end commit together")
}

func TestWorkerFailuresAndPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	f.ops.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		return "", &operations.RunError{Code: operations.ReasonValidationFailed, Message: "fewer than two inventory snapshots; password=hunter2"}
	})
	f.ops.Handle("inventory.sync", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		panic("nil map write at postgres://app:s3cret@db/prod")
	})
	runWorkers(t, f)

	failed := waitTerminal(t, f, f.start(t, "operator", "drift.generate", f.tenant, `{}`).Run.ID)
	require.Equal(t, operations.OutcomeFailed, failed.Outcome)
	require.Equal(t, operations.ReasonValidationFailed, failed.ReasonCode)
	require.NotContains(t, failed.Message, "hunter2")

	crashed := waitTerminal(t, f, f.start(t, "operator", "inventory.sync", f.tenant, `{}`).Run.ID)
	require.Equal(t, operations.OutcomeFailed, crashed.Outcome)
	require.Equal(t, operations.ReasonInternalError, crashed.ReasonCode)
	var leaked int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_events WHERE data::text LIKE '%s3cret%' OR data::text LIKE '%hunter2%'`).Scan(&leaked))
	require.Zero(t, leaked)

	// No handler for the type: the run fails fast instead of hanging.
	orphan := waitTerminal(t, f, f.start(t, "operator", "provider.verify", f.tenant, `{}`).Run.ID)
	require.Equal(t, operations.ReasonInternalError, orphan.ReasonCode)
}

func TestClaimRejectsMissingAndEndedRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	missing := uuid.New()
	run, err := f.ops.Claim(f.ctx, operations.Job{RunID: missing, Type: "inventory.sync"}, "w1")
	require.NoError(t, err)
	require.Nil(t, run)
	var streams int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_streams WHERE stream_id = $1`, string(operations.RunStream(missing))).Scan(&streams))
	require.Zero(t, streams, "a worker never creates a run")

	blocked := f.start(t, "operator", "inventory.sync", f.bare, `{}`)
	run, err = f.ops.Claim(f.ctx, operations.Job{RunID: blocked.Run.ID, Type: "inventory.sync"}, "w1")
	require.NoError(t, err)
	require.Nil(t, run, "an ended run is not started again")

	out := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	run, err = f.ops.Claim(f.ctx, operations.Job{RunID: out.Run.ID, Type: "drift.generate"}, "w1")
	require.NoError(t, err)
	require.NotNil(t, run)
	run, err = f.ops.Claim(f.ctx, operations.Job{RunID: out.Run.ID, Type: "drift.generate"}, "w2")
	require.NoError(t, err)
	require.Nil(t, run, "a run is claimed once")
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted"}, f.eventTypes(t, out.Run.ID))
}

// TestSweeper ends a queued run nobody picked up and a running run whose worker went
// silent; after that the same starts are accepted again.
func TestSweeper(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	queued := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	running := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	_, err := f.ops.Claim(f.ctx, operations.Job{RunID: running.Run.ID, Type: "drift.generate"}, "w1")
	require.NoError(t, err)

	n, err := f.ops.Sweep(f.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is stale yet")
	require.Equal(t, operations.StartDeduped, f.start(t, "operator", "inventory.sync", f.tenant, `{}`).Status)

	f.clock.Advance(16 * time.Minute)
	n, err = f.ops.Sweep(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	q, err := f.ops.Load(f.ctx, queued.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.ReasonStaleQueuedTimeout, q.ReasonCode)
	require.Equal(t, operations.OutcomeFailed, q.Outcome)
	r, err := f.ops.Load(f.ctx, running.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.ReasonWorkerLost, r.ReasonCode)
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted", "RunStaleTimedOut", "NotificationSent"}, f.eventTypes(t, running.Run.ID))

	again := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, again.Status, "after the timeout the same start is accepted")
	require.NotEqual(t, queued.Run.ID, again.Run.ID)
}

// TestInfrastructureErrorsAreRetriedThenPoisoned breaks the run table under a queued
// job: claiming fails, the router retries with backoff, then moves the job to the
// poison topic instead of spinning on it forever.
func TestInfrastructureErrorsAreRetriedThenPoisoned(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	out := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	_, err := f.pool.Exec(f.ctx, `ALTER TABLE ops_runs RENAME TO ops_runs_away`)
	require.NoError(t, err)
	runWorkers(t, f)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM watermill_ops_dispatch_poison WHERE uuid = $1`, out.Run.ID.String()).Scan(&n))
		return n == 1
	}, 30*time.Second, 50*time.Millisecond, "the job never reached the poison queue")
	var reason string
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT metadata->>'reason_poisoned' FROM watermill_ops_dispatch_poison WHERE uuid = $1`, out.Run.ID.String()).Scan(&reason))
	require.Contains(t, reason, "ops_runs", "the poisoned job says why")
}

// TestBusyWorkerKeepsTheLogMoving fills the only run slot with a run that waits,
// queues a second one, and checks that it stays queued (not claimed by a worker with
// no free slot), that meanwhile no dispatch subscriber sits in an open transaction
// (which would hold back sealing for the whole server), then that the second run is
// executed once the first finishes.
func TestBusyWorkerKeepsTheLogMoving(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // before the workers stop, even when an assertion fails
	f.ops.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		<-release
		return operations.OutcomeSucceeded, nil
	})
	ctx, cancel := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = f.ops.RunWorkers(ctx, operations.WorkerOptions{Concurrency: 1, PollInterval: 10 * time.Millisecond})
	})
	defer func() { free(); cancel(); wg.Wait() }()

	first := f.start(t, "operator", "drift.generate", f.tenant, `{"baseline":"1"}`)
	require.Eventually(t, func() bool {
		r, err := f.ops.Load(f.ctx, first.Run.ID)
		require.NoError(t, err)
		return r.Status == operations.StatusRunning
	}, 20*time.Second, 10*time.Millisecond)
	second := f.start(t, "operator", "drift.generate", f.tenant, `{"baseline":"2"}`)
	// The worker has no free slot: the second run is not claimed and stays queued
	// (its dispatch job is consumed meanwhile), visible as queued in the hub.
	require.Eventually(t, func() bool {
		var acked bool
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT EXISTS (SELECT 1 FROM watermill_ops_dispatch d, watermill_offsets_ops_dispatch o
			WHERE d.uuid = $1 AND o.consumer_group = 'workers' AND o.offset_acked >= d."offset")`, second.Run.ID.String()).Scan(&acked))
		return acked
	}, 20*time.Second, 10*time.Millisecond, "the second job was never consumed")
	time.Sleep(500 * time.Millisecond)
	r, err := f.ops.Load(f.ctx, second.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.StatusQueued, r.Status, "a run waiting for a slot stays queued")
	var state string
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT status || coalesce(worker_id, '') FROM ops_runs WHERE run_id = $1`, second.Run.ID).Scan(&state))
	require.Equal(t, "queued", state)
	var oldest float64
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT COALESCE(max(extract(epoch from now() - xact_start)), 0) FROM pg_stat_activity
		WHERE datname = current_database() AND state = 'idle in transaction'`).Scan(&oldest))
	require.Less(t, oldest, 0.4, "no subscriber sits in an open transaction waiting for a slot")
	free()
	waitTerminal(t, f, first.Run.ID)
	r = waitTerminal(t, f, second.Run.ID)
	require.Equal(t, operations.OutcomeSucceeded, r.Outcome)
}

// TestWorkerKeepsTheFirstHundredFailures: a handler reporting 250 failures leaves a run
// with the first 100 and a count of the other 150, and no event carries more than 100
// failure entries (the Reporter stops collecting details once the run has 100).
func TestWorkerKeepsTheFirstHundredFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t), func(o *operations.Options) { o.FlushEvery = 40 })
	f.ops.Handle("inventory.sync", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		for i := range 250 {
			if err := rep.Fail(ctx, operations.ReasonItemFailed, fmt.Sprintf("policy %d failed", i)); err != nil {
				return "", err
			}
		}
		return operations.OutcomeSucceeded, nil
	})
	runWorkers(t, f)

	out := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	run := waitTerminal(t, f, out.Run.ID)
	require.Equal(t, operations.OutcomePartiallySucceeded, run.Outcome)
	require.Len(t, run.Failures, operations.MaxRunFailures)
	require.Equal(t, "policy 0 failed", run.Failures[0].Message)
	require.Equal(t, "policy 99 failed", run.Failures[99].Message)
	require.EqualValues(t, 150, run.FailuresOmitted)

	envs, err := f.ops.Events(f.ctx, out.Run.ID)
	require.NoError(t, err)
	var entries int
	var omitted int64
	for _, e := range envs {
		if fa, ok := e.Data.(operations.RunFailuresAppended); ok {
			entries += len(fa.Failures)
			omitted += fa.Omitted
			require.LessOrEqual(t, len(e.RawData), 100*64, "a failures event stays small")
		}
	}
	require.Equal(t, operations.MaxRunFailures, entries, "the log holds only the first 100 messages")
	require.EqualValues(t, 150, omitted)
}

// TestRunApplyCapsFailures: the fold keeps at most MaxRunFailures entries whatever the
// events carry (an event written before the Reporter capped them, a legacy import).
func TestRunApplyCapsFailures(t *testing.T) {
	t.Parallel()
	fs := make([]operations.Failure, 70)
	for i := range fs {
		fs[i] = operations.Failure{ReasonCode: operations.ReasonItemFailed, Message: fmt.Sprint(i)}
	}
	r := &operations.Run{}
	for v := int64(1); v <= 3; v++ {
		r.Apply(eventstore.Envelope{StreamVersion: v, Data: operations.RunFailuresAppended{Failures: fs, Omitted: 5}})
	}
	require.Len(t, r.Failures, operations.MaxRunFailures)
	require.Equal(t, "29", r.Failures[99].Message)
	require.EqualValues(t, 3*70-100+3*5, r.FailuresOmitted)
}
