package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// benchRunType is the one run type the run benchmarks (lag, gate, e2e) start: it
// needs no provider connection and no precondition (a platform runbook of the bench
// workspace), so they measure the machinery, not Graph.
const benchRunType = "findings.lifecycle.backfill"

// benchStarts starts bench runs through the gate as the bench owner, each with a
// context of its own, so no start is deduped against an earlier one.
type benchStarts struct {
	a   *monolith.App
	req operations.StartRequest
	id  string // this process's prefix of the contexts
}

// newBenchStarts finds the bench owner and the workspace it manages (the database must
// hold `atlas bench seed` data).
func newBenchStarts(ctx context.Context, a *monolith.App) (*benchStarts, error) {
	u, _, err := benchUser(ctx, a)
	if err != nil {
		return nil, err
	}
	wsIDs, err := a.Tenancy.VisibleWorkspaces(ctx, u.ID, tenancy.CapMembersManage)
	if err != nil || len(wsIDs) == 0 {
		return nil, fmt.Errorf("the bench owner manages no workspace")
	}
	return &benchStarts{a: a, id: uuid.NewString()[:8], req: operations.StartRequest{Type: benchRunType, WorkspaceID: wsIDs[0],
		Initiator: operations.Initiator{Kind: "user", UserID: u.ID, Name: "Bench Owner"}, SourceSurface: "cli"}}, nil
}

// start starts the i-th run (its identity is distinct for each i).
func (s *benchStarts) start(ctx context.Context, i int) (operations.StartOutcome, error) {
	req := s.req
	req.Context = fmt.Appendf(nil, `{"reasonText":"bench %s-%d"}`, s.id, i)
	return s.a.Operations.Start(ctx, req)
}

// handle installs the bench runs' handler, which succeeds at once; with progress it
// first reports its one item (one more event per run).
func (s *benchStarts) handle(progress bool) {
	s.a.Operations.Handle(benchRunType, func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		if !progress {
			return operations.OutcomeSucceeded, nil
		}
		return operations.OutcomeSucceeded, rep.Progress(ctx, operations.Counts{"total": 1, "processed": 1, "succeeded": 1})
	})
}

// startAll has callers goroutines start runs 0…runs-1 through the gate, each as soon as
// its previous start returned; started is called with each accepted run, the time its
// start began and how long the start took. A start not accepted ends it with an error.
func (s *benchStarts) startAll(ctx context.Context, runs, callers int, started func(id uuid.UUID, t0 time.Time, took time.Duration)) error {
	var seq atomic.Int64
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(seq.Add(1)) - 1
				if i >= runs {
					return
				}
				t0 := time.Now()
				out, err := s.start(ctx, i)
				if err == nil && out.Status != operations.StartAccepted {
					err = fmt.Errorf("start %d: %s (%s)", i, out.Status, out.ReasonCode)
				}
				if err != nil {
					errs[c] = err
					return
				}
				started(out.Run.ID, t0, time.Since(t0))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// benchRunFlags are the flags of `bench gate` and `bench e2e`.
func benchRunFlags(runs, callers *int) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.IntVar(runs, "runs", 20000, "runs to start")
		fs.IntVar(callers, "callers", 8, "concurrent callers (each starts its next run when its start returned)")
	}
}

// runBenchGate times starts through the gate alone (no workers): --callers concurrent
// callers start --runs runs of distinct identities. Its last line is
// `gate: R starts/s, p99 X ms`.
func runBenchGate(ctx context.Context, env *cli, args []string) error {
	var runs, callers int
	c, err := openCommand(ctx, env, "bench gate", args, 32, false, benchRunFlags(&runs, &callers))
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if runs <= 0 || callers <= 0 {
		return usageError{"--runs and --callers must be positive"}
	}
	starts, err := newBenchStarts(ctx, newGateApp(env, c))
	if err != nil {
		return err
	}
	lat := &latencies{}
	t0 := time.Now()
	err = starts.startAll(ctx, runs, callers, func(_ uuid.UUID, _ time.Time, took time.Duration) { lat.add(took) })
	elapsed := time.Since(t0)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "gate: %d starts, %d callers, %s; latency %s\n", runs, callers, elapsed.Round(time.Millisecond), lat)
	printGroupCommit(env, starts.a)
	fmt.Fprintf(env.stdout, "gate: %.0f starts/s, p99 %.1f ms\n", float64(runs)/elapsed.Seconds(), float64(lat.pct(99).Microseconds())/1000)
	return nil
}

// e2eQuiet bounds how long `bench e2e` waits for the next run to show as completed
// in the hub before it gives up.
const e2eQuiet = time.Minute

// runBenchE2E is the closed loop of the run path: --callers callers start --runs runs
// of distinct identities through the gate while this process runs the serve side (the
// sealer, the workers with a no-op handler, the projections); it ends when every run
// shows as completed in the hub read model. start → completed is the worker's
// completion time (RunCompleted's CompletedAt); start → visible is when the hub_runs
// notification of the batch that showed the run completed arrived. Its last line is
// `e2e: R runs/s, start→completed p99 X ms, start→visible p99 Y ms`.
func runBenchE2E(ctx context.Context, env *cli, args []string) error {
	var runs, callers, workers int
	c, err := openCommand(ctx, env, "bench e2e", args, 48, false, func(fs *flag.FlagSet) {
		benchRunFlags(&runs, &callers)(fs)
		fs.IntVar(&workers, "workers", 100, "run slots of the in-process worker (riverpeer e2e's MaxWorkers is 100 too)")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if runs <= 0 || callers <= 0 || workers <= 0 {
		return usageError{"--runs, --callers and --workers must be positive"}
	}
	a := newGateApp(env, c)
	starts, err := newBenchStarts(ctx, a)
	if err != nil {
		return err
	}
	starts.handle(false)
	w := newVisibleWatch(a, runs)
	runCtx, stop := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() { stop(); bg.Wait() }()
	listening := make(chan struct{})
	var once sync.Once
	bg.Go(func() {
		_ = projections.NewRunChanges(c.pool, c.log).Listen(runCtx, func(ids []uuid.UUID) {
			if ids == nil {
				once.Do(func() { close(listening) })
			}
			w.changed(ids)
		})
	})
	select {
	case <-listening:
	case <-ctx.Done():
		return ctx.Err()
	}
	a.Background(runCtx, &bg, operations.WorkerOptions{Concurrency: workers})
	bg.Go(func() { servePprof(runCtx, env.getenv("ATLAS_PPROF_ADDR"), c.log) })
	bg.Go(func() { w.run(runCtx) })

	gate := &latencies{}
	t0 := time.Now()
	err = starts.startAll(ctx, runs, callers, func(id uuid.UUID, start time.Time, took time.Duration) {
		gate.add(took)
		w.started(id, start)
	})
	if err != nil {
		return err
	}
	startsTook := time.Since(t0)
	last, err := w.wait(ctx, e2eQuiet)
	if err != nil {
		return err
	}
	elapsed := last.Sub(t0)
	fmt.Fprintf(env.stdout, "e2e: %d runs, %d callers, all started in %s (%.0f starts/s), all visible as completed after %s\n",
		runs, callers, startsTook.Round(time.Millisecond), float64(runs)/startsTook.Seconds(), elapsed.Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "start (gate call): %s\n", gate)
	fmt.Fprintf(env.stdout, "start → completed: %s\n", w.completed)
	fmt.Fprintf(env.stdout, "start → visible in the hub read model: %s\n", w.visible)
	fmt.Fprintf(env.stdout, "peak RSS of this process (gate, sealer, workers, projections, callers): %s\n", peakRSS())
	printGroupCommit(env, a)
	fmt.Fprintf(env.stdout, "e2e: %.0f runs/s, start→completed p99 %.1f ms, start→visible p99 %.1f ms\n", float64(runs)/elapsed.Seconds(),
		float64(w.completed.pct(99).Microseconds())/1000, float64(w.visible.pct(99).Microseconds())/1000)
	return nil
}

// visibleWatch follows the hub_runs notifications and records, for each started run,
// when it showed as completed in rm_runs.
type visibleWatch struct {
	a    *monolith.App
	runs int

	mu       sync.Mutex
	pending  map[uuid.UUID]time.Time // started, not yet seen completed: its start time
	queue    []notified              // notifications not yet checked
	seen     int                     // runs seen completed
	last     time.Time               // when the last of them was seen
	wake     chan struct{}
	allSeen  chan struct{}
	failures []error

	completed, visible *latencies
}

// notified is one notification: the runs it names and when it arrived (nil ids: check
// every pending run, as after a reconnect).
type notified struct {
	at  time.Time
	ids []uuid.UUID
}

func newVisibleWatch(a *monolith.App, runs int) *visibleWatch {
	return &visibleWatch{a: a, runs: runs, pending: make(map[uuid.UUID]time.Time, runs), wake: make(chan struct{}, 1),
		allSeen: make(chan struct{}), completed: &latencies{}, visible: &latencies{}}
}

// started records a run's start (before its completion can be noticed: the
// notification of a run's RunQueued comes after the sealer, well after Start returned;
// a run missed anyway is found by the periodic sweep).
func (w *visibleWatch) started(id uuid.UUID, t0 time.Time) {
	w.mu.Lock()
	w.pending[id] = t0
	w.mu.Unlock()
}

// changed is the listener's callback: it only queues (it must not block).
func (w *visibleWatch) changed(ids []uuid.UUID) {
	w.mu.Lock()
	w.queue = append(w.queue, notified{at: time.Now(), ids: ids})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run checks the queued notifications against rm_runs until ctx ends; every second
// it also checks every pending run (a notification may have been missed).
func (w *visibleWatch) run(ctx context.Context) {
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-sweep.C:
			w.changed(nil)
			continue
		}
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, n := range batch {
			if err := w.check(ctx, n); err != nil && ctx.Err() == nil {
				w.mu.Lock()
				w.failures = append(w.failures, err)
				w.mu.Unlock()
			}
		}
	}
}

// check reads which of the notification's pending runs are completed in rm_runs.
func (w *visibleWatch) check(ctx context.Context, n notified) error {
	w.mu.Lock()
	var ids []uuid.UUID
	for _, id := range n.ids {
		if _, ok := w.pending[id]; ok {
			ids = append(ids, id)
		}
	}
	if n.ids == nil {
		for id := range w.pending {
			ids = append(ids, id)
		}
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	rows, err := w.a.Pool.Query(ctx, `SELECT run_id, completed_at FROM rm_runs WHERE run_id = ANY($1) AND status = 'completed'`,
		eventstore.UUIDArray(ids))
	if err != nil {
		return fmt.Errorf("bench e2e: read rm_runs: %w", err)
	}
	defer rows.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	for rows.Next() {
		var id uuid.UUID
		var done pgtype.Timestamptz
		if err := rows.Scan(&id, &done); err != nil {
			return err
		}
		t0, ok := w.pending[id]
		if !ok {
			continue
		}
		delete(w.pending, id)
		w.completed.add(done.Time.Sub(t0))
		w.visible.add(n.at.Sub(t0))
		w.seen++
		if n.at.After(w.last) {
			w.last = n.at
		}
		if w.seen == w.runs {
			close(w.allSeen)
		}
	}
	return rows.Err()
}

// wait returns when every run was seen completed (the time the last was), or an error
// once no run has been seen for quiet.
func (w *visibleWatch) wait(ctx context.Context, quiet time.Duration) (time.Time, error) {
	tick := time.NewTicker(quiet / 10)
	defer tick.Stop()
	seen, since := -1, time.Now()
	for {
		select {
		case <-w.allSeen:
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.last, nil
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-tick.C:
		}
		w.mu.Lock()
		if w.seen != seen {
			seen, since = w.seen, time.Now()
		}
		failures := errors.Join(w.failures...)
		w.mu.Unlock()
		if time.Since(since) > quiet {
			msg := fmt.Sprintf("%d of %d runs not visible as completed in the hub: none came for %s", w.runs-seen, w.runs, quiet)
			if failures != nil {
				msg += fmt.Sprintf(" (%v)", failures)
			}
			return time.Time{}, errors.New(msg)
		}
	}
}

// printGroupCommit says, when the gate's group commit is on (ATLAS_GATE_GROUP_COMMIT),
// how many starts it decided in group transactions.
func printGroupCommit(env *cli, a *monolith.App) {
	on, grouped, failed := a.Operations.GroupCommitStats()
	if !on {
		return
	}
	fmt.Fprintf(env.stdout, "gate group commit on: %d starts decided in group transactions, %d group transactions failed\n", grouped, failed)
}
