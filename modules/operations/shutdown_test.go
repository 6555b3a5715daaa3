package operations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// workerProcess is what one `atlas worker` process holds: a pool of its own and an
// operations service over it.
type workerProcess struct {
	pool *pgxpool.Pool
	ops  *operations.Service
}

// newWorkerProcess opens a second, separate pool on f's database and an operations
// service over it with f's clock.
func newWorkerProcess(t *testing.T, f *fixture, log *slog.Logger) *workerProcess {
	t.Helper()
	pool := poolOf(t, f.pool.Config().ConnString(), 10)
	store := eventstore.New(pool, eventstore.Options{Registry: registry()})
	ten := tenancy.New(pool, store, tenancy.Options{BcryptCost: bcrypt.MinCost})
	ops := operations.New(pool, store, ten, audit.NewRecorder(store), operations.Options{Now: f.clock.Now, Logger: log,
		FlushInterval: time.Hour, FlushEvery: 1000})
	return &workerProcess{pool: pool, ops: ops}
}

// handleAtTheGate registers do-nothing handlers for types on f's own service (which
// runs no workers here), so a gate that admits only types with a handler in its
// process admits the starts of these tests.
func handleAtTheGate(f *fixture, types ...string) {
	for _, typ := range types {
		f.ops.Handle(typ, func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
			return operations.OutcomeSucceeded, nil
		})
	}
}

// gauge tracks how many handlers run at once and the most it has seen.
type gauge struct {
	now, peak atomic.Int64
}

func (g *gauge) enter() {
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// TestTwoWorkersTakeOnlyWhatTheyCanRun: two worker processes (separate pools, separate
// services) share one database with 200 queued runs and 3 slots each. Sampled all
// along, ops_runs never shows more than 3 running runs per worker; the first worker is
// stopped (SIGTERM's path: its context ends) mid-way, lets its running handlers finish,
// claims nothing more, and the second finishes the rest: all 200 succeed, each started
// exactly once.
func TestTwoWorkersTakeOnlyWhatTheyCanRun(t *testing.T) {
	t.Parallel()
	const runs, slots = 200, 3
	f := newFixture(t, pgtest.Fresh(t))
	handleAtTheGate(f, "drift.generate")
	a, b := newWorkerProcess(t, f, nil), newWorkerProcess(t, f, nil)
	sampler := newWorkerProcess(t, f, nil).pool
	gauges := map[string]*gauge{"worker-a": {}, "worker-b": {}}
	handler := func(g *gauge) operations.Handler {
		return func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
			g.enter()
			defer g.leave()
			select {
			case <-time.After(15 * time.Millisecond):
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return operations.OutcomeSucceeded, rep.Progress(ctx, operations.Counts{"processed": 1})
		}
	}
	a.ops.Handle("drift.generate", handler(gauges["worker-a"]))
	b.ops.Handle("drift.generate", handler(gauges["worker-b"]))

	// 200 queued runs (one per tenant, so none dedupes), before any worker runs.
	for i := range runs {
		tn, err := f.ten.AddTenant(f.ctx, "system:test", f.workspace, fmt.Sprintf("Tenant %d", i), fmt.Sprintf("t%d-%s.onmicrosoft.com", i, uuid.NewString()[:8]))
		require.NoError(t, err)
		require.Equal(t, operations.StartAccepted, f.start(t, "operator", "drift.generate", tn.ID, `{}`).Status)
	}

	// Sample ops_runs continuously: running runs per worker.
	var peakMu sync.Mutex
	peak := map[string]int{}
	samples := 0
	sampleCtx, stopSampling := context.WithCancel(f.ctx)
	var sampling sync.WaitGroup
	sampling.Go(func() {
		for sampleCtx.Err() == nil {
			rows, err := sampler.Query(sampleCtx, `SELECT worker_id, count(*) FROM ops_runs WHERE status = 'running' GROUP BY worker_id`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var w string
				var n int
				if rows.Scan(&w, &n) == nil {
					peakMu.Lock()
					peak[w] = max(peak[w], n)
					peakMu.Unlock()
				}
			}
			rows.Close()
			peakMu.Lock()
			samples++
			peakMu.Unlock()
		}
	})
	defer func() { stopSampling(); sampling.Wait() }()

	start := func(w *workerProcess, id string) (context.CancelFunc, <-chan error) {
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan error, 1)
		go func() {
			done <- w.ops.RunWorkers(ctx, operations.WorkerOptions{WorkerID: id, Concurrency: slots,
				PollInterval: 10 * time.Millisecond, ShutdownTimeout: 10 * time.Second})
		}()
		return cancel, done
	}
	stopA, doneA := start(a, "worker-a")
	stopB, doneB := start(b, "worker-b")
	defer stopB()
	defer stopA()

	completed := func() int {
		var n int
		require.NoError(t, sampler.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE status = 'completed'`).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return completed() >= 60 }, 60*time.Second, 5*time.Millisecond)
	stopA() // SIGTERM mid-way
	select {
	case err := <-doneA:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("worker a did not stop")
	}
	var byA int
	require.NoError(t, sampler.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE worker_id = 'worker-a'`).Scan(&byA))
	var runningA int
	require.NoError(t, sampler.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE worker_id = 'worker-a' AND status <> 'completed'`).Scan(&runningA))
	require.Zero(t, runningA, "worker a finished its running handlers before it stopped")
	require.Less(t, completed(), runs, "the test stops worker a mid-way")

	require.Eventually(t, func() bool { return completed() == runs }, 60*time.Second, 10*time.Millisecond, "worker b never finished the rest")
	stopB()
	require.NoError(t, <-doneB)

	var afterA int
	require.NoError(t, sampler.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE worker_id = 'worker-a'`).Scan(&afterA))
	require.Equal(t, byA, afterA, "a stopped worker claims nothing more")
	var succeeded, byB int
	require.NoError(t, sampler.QueryRow(f.ctx, `SELECT count(*) FILTER (WHERE outcome = 'succeeded'), count(*) FILTER (WHERE worker_id = 'worker-b') FROM ops_runs`).Scan(&succeeded, &byB))
	require.Equal(t, runs, succeeded, "no run lost")
	require.Equal(t, runs, byA+byB)
	require.Greater(t, byB, 0)
	var started, streams int
	require.NoError(t, sampler.QueryRow(f.ctx, `SELECT count(*), count(DISTINCT stream_id) FROM es_events WHERE event_type = 'RunStarted'`).Scan(&started, &streams))
	require.Equal(t, runs, started, "each run is started once")
	require.Equal(t, runs, streams)

	stopSampling()
	sampling.Wait()
	t.Logf("samples %d, peak running per worker %v, handler peaks a=%d b=%d, runs a=%d b=%d", samples, peak,
		gauges["worker-a"].peak.Load(), gauges["worker-b"].peak.Load(), byA, byB)
	require.Greater(t, samples, 20)
	for w, n := range peak {
		require.LessOrEqual(t, n, slots, "worker %s held %d running runs with %d slots", w, n, slots)
	}
	for w, g := range gauges {
		require.Equal(t, int64(slots), g.peak.Load(), "worker %s used all its slots", w)
	}
}

// TestWorkerShutdownDeadline: on shutdown a handler that does not finish within
// ShutdownTimeout has its context cancelled; its run is left running (no failure of its
// own is recorded, the heartbeat stops) for the sweeper to end as worker_lost, and the
// run that was still waiting for a slot stays queued for another worker.
func TestWorkerShutdownDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	f.ops.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		<-ctx.Done() // a handler that only ends when cancelled
		return "", ctx.Err()
	})
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- f.ops.RunWorkers(ctx, operations.WorkerOptions{WorkerID: "w1", Concurrency: 1, PollInterval: 10 * time.Millisecond,
			ShutdownTimeout: 300 * time.Millisecond})
	}()
	first := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	require.Eventually(t, func() bool {
		r, err := f.ops.Load(f.ctx, first.Run.ID)
		require.NoError(t, err)
		return r.Status == operations.StatusRunning
	}, 20*time.Second, 10*time.Millisecond)
	second := f.start(t, "operator", "drift.generate", f.bare, `{}`)

	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the worker did not stop after its shutdown deadline")
	}
	require.GreaterOrEqual(t, time.Since(stopped), 300*time.Millisecond, "running handlers get the deadline")

	r, err := f.ops.Load(f.ctx, first.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.StatusRunning, r.Status, "the cancelled run is left to the sweeper")
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted"}, f.eventTypes(t, first.Run.ID))
	q, err := f.ops.Load(f.ctx, second.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.StatusQueued, q.Status, "unstarted work stays queued")

	f.clock.Advance(3 * time.Minute)
	n, err := f.ops.Sweep(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	r, err = f.ops.Load(f.ctx, first.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.ReasonWorkerLost, r.ReasonCode)

	// Another worker takes the queued run.
	g := newWorkerProcess(t, f, nil)
	g.ops.Handle("drift.generate", func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
		return operations.OutcomeSucceeded, nil
	})
	gctx, gcancel := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = g.ops.RunWorkers(gctx, operations.WorkerOptions{WorkerID: "w2", PollInterval: 10 * time.Millisecond})
	})
	defer func() { gcancel(); wg.Wait() }()
	require.Equal(t, operations.OutcomeSucceeded, waitTerminal(t, f, second.Run.ID).Outcome)
}

// logLines is a slog handler that keeps each record's message.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }

func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *logLines) WithGroup(string) slog.Handler { return l }

func (l *logLines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestDispatchRetriedThenSucceeds: dispatch fails for a while (the run table is
// renamed away under a queued run, a real infrastructure failure) and then recovers.
// Both retries are exercised: the claim loop's (it keeps claiming with backoff, and once
// the table is back the run completes; a loop that gave up on an error would leave it
// queued) and the dispatch router's middleware (the job's check failed, was retried and
// acknowledged; without the retry the job would have gone to the poison queue at once).
func TestDispatchRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	logs := &logLines{}
	handleAtTheGate(f, "drift.generate")
	w := newWorkerProcess(t, f, slog.New(logs))
	w.ops.Handle("drift.generate", func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
		return operations.OutcomeSucceeded, nil
	})
	out := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	_, err := f.pool.Exec(f.ctx, `ALTER TABLE ops_runs RENAME TO ops_runs_away`)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() {
		done <- w.ops.RunWorkers(ctx, operations.WorkerOptions{WorkerID: "w1", PollInterval: 10 * time.Millisecond})
	}()
	defer func() { cancel(); <-done }()
	poisoned := func() int {
		var n int
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM watermill_ops_dispatch_poison`).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { // both have failed (the job: retried, or poisoned)
		return logs.count("claim failed") >= 1 && (logs.count("Error occurred, retrying") >= 1 || poisoned() > 0)
	}, 30*time.Second, 2*time.Millisecond, "the claim or the dispatch job never failed")
	_, err = f.pool.Exec(f.ctx, `ALTER TABLE ops_runs_away RENAME TO ops_runs`)
	require.NoError(t, err)
	run := waitTerminal(t, f, out.Run.ID)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome)
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted", "RunCompleted", "NotificationSent"}, f.eventTypes(t, out.Run.ID))
	require.Greater(t, logs.count("claim failed"), 0)

	require.Eventually(t, func() bool {
		var acked bool
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT EXISTS (SELECT 1 FROM watermill_ops_dispatch d, watermill_offsets_ops_dispatch o
			WHERE d.uuid = $1 AND o.consumer_group = 'workers' AND o.offset_acked >= d."offset")`, out.Run.ID.String()).Scan(&acked))
		return acked
	}, 20*time.Second, 10*time.Millisecond, "the dispatch job was never acknowledged")
	require.Zero(t, poisoned(), "a failure that went away does not poison the job")
}

// TestDispatchJobWithoutARunIsRejected: a dispatch job naming no run (or not a job at
// all) is acknowledged and dropped with run_context_missing in the log, not retried or
// poisoned, and nothing is created for it; a real run queued after it still runs.
func TestDispatchJobWithoutARunIsRejected(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	logs := &logLines{}
	handleAtTheGate(f, "drift.generate")
	w := newWorkerProcess(t, f, slog.New(logs))
	w.ops.Handle("drift.generate", func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
		return operations.OutcomeSucceeded, nil
	})
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(f.pool), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, nil)
	require.NoError(t, err)
	missing := uuid.New()
	payload, err := json.Marshal(operations.Job{RunID: missing, Type: "drift.generate"})
	require.NoError(t, err)
	require.NoError(t, pub.Publish(operations.DispatchTopic, message.NewMessage(missing.String(), payload),
		message.NewMessage(uuid.NewString(), []byte(`{"runId":"not a uuid"}`))))
	out := f.start(t, "operator", "drift.generate", f.tenant, `{}`)

	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() {
		done <- w.ops.RunWorkers(ctx, operations.WorkerOptions{WorkerID: "w1", PollInterval: 10 * time.Millisecond})
	}()
	defer func() { cancel(); <-done }()
	require.Equal(t, operations.OutcomeSucceeded, waitTerminal(t, f, out.Run.ID).Outcome)
	require.Eventually(t, func() bool {
		return logs.count("dispatch job rejected") == 1 && logs.count("dispatch message rejected") == 1
	}, 20*time.Second, 10*time.Millisecond, "the bad jobs were not rejected")
	var streams, poisoned int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_streams WHERE stream_id = $1`, string(operations.RunStream(missing))).Scan(&streams))
	require.Zero(t, streams, "a worker never creates a run")
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM watermill_ops_dispatch_poison`).Scan(&poisoned))
	require.Zero(t, poisoned)
}
