package operations

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// Handler does the work of one run type. It reports progress and per-item failures
// through rep and returns the outcome (succeeded, or partially_succeeded) or an error:
// a *RunError ends the run failed with its reason code; any other error (or a panic)
// ends it failed with internal_error.
type Handler func(ctx context.Context, run *Run, rep *Reporter) (Outcome, error)

// RunError is a failure with a stable reason code.
type RunError struct {
	// Code is the reason code recorded on the run.
	Code ReasonCode
	// Message is sanitized before it is stored.
	Message string
}

func (e *RunError) Error() string { return string(e.Code) + ": " + e.Message }

// Handle registers the handler of a run type. Registering twice panics.
func (s *Service) Handle(runType string, h Handler) {
	if _, ok := LookupType(runType); !ok {
		panic("operations: Handle: unknown run type " + runType)
	}
	if _, dup := s.handlers[runType]; dup {
		panic("operations: Handle: two handlers for " + runType)
	}
	s.handlers[runType] = h
}

// Claim turns a dispatch job into a running run: the row is marked running, RunStarted
// appended and the run loaded, in one transaction. It returns nil (and writes nothing)
// when the run does not exist, has ended or was claimed already: a worker never creates
// a run.
func (s *Service) Claim(ctx context.Context, job Job, workerID string) (*Run, error) {
	runs, err := s.claim(ctx, workerID, `SELECT run_id, status FROM ops_runs WHERE run_id = $1 AND status = 'queued' FOR UPDATE`, job.RunID)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		s.log.Warn("dispatch job rejected", "run", job.RunID, "reason", ReasonRunContextMissing)
		return nil, nil
	}
	return runs[0], nil
}

// claimQueued claims up to n queued runs, oldest first, skipping rows another worker
// has locked, and returns them loaded; see claim.
func (s *Service) claimQueued(ctx context.Context, n int, workerID string) ([]*Run, error) {
	return s.claim(ctx, workerID, `SELECT run_id, status FROM ops_runs WHERE status = 'queued'
		ORDER BY queued_at, run_id LIMIT $1 FOR UPDATE SKIP LOCKED`, n)
}

// claim locks queued rows with lock (which returns run_id, status) and, in the same
// transaction, starts them all by one transitionMany (one query loads them, one
// pipelined batch appends RunStarted to each and marks each row running with this
// worker and a first heartbeat). It returns the runs loaded.
func (s *Service) claim(ctx context.Context, workerID, lock string, args ...any) ([]*Run, error) {
	now := s.now().UTC()
	start := func(run *Run, _ runRow) ([]eventstore.NewEvent, rowUpdate, error) {
		if run.Status != StatusQueued {
			return nil, rowUpdate{}, nil
		}
		return []eventstore.NewEvent{{Data: RunStarted{WorkerID: workerID, StartedAt: now}, Metadata: systemMeta(run, workerID)}},
			rowUpdate{heartbeat: now, workerID: workerID}, nil
	}
	var runs []*Run
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		runs = nil
		rows, err := tx.Query(ctx, lock, append([]any{eventstore.PlanEachTime}, args...)...)
		if err != nil {
			return fmt.Errorf("operations: claim: %w", err)
		}
		locked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (runRow, error) { return scanRunRow(r) })
		if err != nil {
			return fmt.Errorf("operations: claim: %w", err)
		}
		loaded, started, err := s.transitionMany(ctx, tx, locked, nil, start)
		if err != nil {
			return fmt.Errorf("operations: claim %d runs: %w", len(locked), err)
		}
		for i, run := range loaded {
			if !started[i] {
				// Cannot happen while every change goes through transition.
				s.log.Error("a queued row whose run is not queued was not claimed", "run", run.ID, "status", run.Status)
				continue
			}
			runs = append(runs, run)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return runs, nil
}

// Execute runs a claimed run's handler and ends the run: RunCompleted, or RunFailed
// with the handler's reason, internal_error for a panic or an unknown error. Progress is
// flushed first. If the sweeper ended the run meanwhile, nothing more is written; if
// ctx was cancelled (a worker's shutdown deadline) and the handler failed, the run is
// left to the sweeper (worker_lost) rather than failed for a reason of its own.
func (s *Service) Execute(ctx context.Context, run *Run, workerID string) {
	s.execute(ctx, run, workerID)
}

func (s *Service) execute(parent context.Context, run *Run, workerID string) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	rep := &Reporter{s: s, run: run, known: run.clone(), cancel: cancel, last: s.now(), kept: len(run.Failures)}
	stopBeat := s.heartbeat(ctx, rep)

	outcome, err := s.invoke(ctx, run, rep)
	stopBeat()
	if err != nil && parent.Err() != nil {
		if ferr := rep.Flush(context.WithoutCancel(ctx)); ferr != nil && !errors.Is(ferr, errRunEnded) {
			s.log.Error("progress flush failed", "run", run.ID, "error", Sanitize(ferr.Error()))
		}
		s.log.Warn("run abandoned at the shutdown deadline; the sweeper ends it", "run", run.ID, "worker", workerID)
		return
	}
	meta := systemMeta(run, workerID)
	now := s.now().UTC()
	var ev eventstore.Event
	switch {
	case err != nil:
		code, msg := ReasonInternalError, "The run stopped because of an internal error."
		var re *RunError
		if errors.As(err, &re) {
			code, msg = re.Code, re.Message
		}
		if !code.Known() {
			code = ReasonUnknownError
		}
		outcome = OutcomeFailed
		ev = RunFailed{ReasonCode: code, Message: Sanitize(msg), CompletedAt: now}
	default:
		if outcome != OutcomePartiallySucceeded {
			outcome = OutcomeSucceeded
		}
		if rep.failedCount() > 0 && outcome == OutcomeSucceeded {
			outcome = OutcomePartiallySucceeded
		}
		ev = RunCompleted{Outcome: outcome, CompletedAt: now}
	}
	// The progress not yet flushed and the end are one append in one transaction: a
	// run ends in one commit, not two, shared with the other ends of the moment
	// (ender.go). If the sweeper ended the run meanwhile, neither is written.
	rep.mu.Lock()
	defer rep.mu.Unlock()
	progress := rep.pendingLocked()
	err = s.endRun(run.ID, rep.known, func(agg *Run, row runRow) ([]eventstore.NewEvent, rowUpdate, error) {
		if agg.Terminal() || row.status != StatusRunning {
			return nil, rowUpdate{}, nil
		}
		end, upd, err := ending(agg, row, outcome, ev, meta)
		if err != nil || len(end) == 0 {
			return nil, upd, err
		}
		return append(slices.Clip(progress), end...), upd, nil
	})
	if err != nil {
		s.log.Error("finishing run failed", "run", run.ID, "error", Sanitize(err.Error()))
	}
}

// invoke calls the handler, turning a panic into an internal error.
func (s *Service) invoke(ctx context.Context, run *Run, rep *Reporter) (out Outcome, err error) {
	h, ok := s.handlers[run.Type]
	if !ok {
		return OutcomeFailed, &RunError{Code: ReasonInternalError, Message: "No worker handles this operation type yet."}
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("run handler panicked", "run", run.ID, "type", run.Type, "panic", Sanitize(fmt.Sprint(p)),
				"stack", Sanitize(string(debug.Stack())))
			out, err = OutcomeFailed, &RunError{Code: ReasonInternalError, Message: "The worker crashed while running this operation."}
		}
	}()
	return h(ctx, run, rep)
}

// heartbeat touches the run every HeartbeatInterval; when the run has been ended by
// someone else (the sweeper) it cancels the handler. It is a plain guarded UPDATE, not
// a transition: heartbeat_at is the row's own (the sweeper's clock), and it changes no
// event.
func (s *Service) heartbeat(ctx context.Context, rep *Reporter) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.opts.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tag, err := s.pool.Exec(ctx, `UPDATE ops_runs SET heartbeat_at = $2 WHERE run_id = $1 AND status = 'running'`, rep.run.ID, s.now().UTC())
				if err == nil && tag.RowsAffected() == 0 {
					rep.cancel()
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

var errRunEnded = errors.New("operations: the run has already ended")

// Reporter collects a running run's progress and failures and appends them in
// batches: one RunProgressed with the summed deltas and one RunFailuresAppended per
// flush, never one event per item.
type Reporter struct {
	s      *Service
	run    *Run
	cancel context.CancelFunc
	// known is the run as this worker last wrote it, a copy of its own (the handler
	// reads run): a flush reads only the events past its version and appends with that
	// exact expected version, never the whole stream of a long run.
	known *Run

	mu       sync.Mutex
	delta    Counts
	failures []Failure
	links    []RunLinked
	calls    int
	failed   int
	// kept counts the failure entries of the run (recorded or pending); past
	// MaxRunFailures a failure only adds to omitted.
	kept    int
	omitted int64
	last    time.Time
}

// Progress adds count deltas (keys from SummaryKeys; zero deltas are dropped, so a key
// shows up only once it counts something). It may flush.
func (r *Reporter) Progress(ctx context.Context, delta Counts) error {
	if err := ValidateCounts(delta); err != nil {
		return err
	}
	for _, v := range delta {
		if v == 0 {
			delta = maps.Clone(delta)
			maps.DeleteFunc(delta, func(_ string, v int64) bool { return v == 0 })
			break
		}
	}
	r.mu.Lock()
	r.delta = r.delta.Add(delta)
	return r.counted(ctx)
}

// counted ends a Progress or Fail call that holds r.mu: it counts the call, releases
// the lock and flushes when FlushEvery calls or FlushInterval have passed since the last flush.
func (r *Reporter) counted(ctx context.Context) error {
	r.calls++
	due := r.calls >= r.s.opts.FlushEvery || r.s.now().Sub(r.last) >= r.s.opts.FlushInterval
	r.mu.Unlock()
	if due {
		return r.Flush(ctx)
	}
	return nil
}

// Fail records one item failure (sanitized): the run's first MaxRunFailures are kept
// with their message, later ones are only counted. It may flush.
func (r *Reporter) Fail(ctx context.Context, code ReasonCode, msg string) error {
	r.mu.Lock()
	if r.kept < MaxRunFailures {
		r.failures = append(r.failures, SanitizeFailure(code, msg))
		r.kept++
	} else {
		r.omitted++
	}
	r.failed++
	return r.counted(ctx)
}

// Link records that the run produced or acts on another module's object (kind, id): a
// RunLinked event, appended at once together with the progress collected so far.
func (r *Reporter) Link(ctx context.Context, kind LinkKind, id uuid.UUID) error {
	if !kind.Valid() || id == uuid.Nil {
		return fmt.Errorf("operations: link %q %s: invalid link", kind, id)
	}
	r.mu.Lock()
	r.links = append(r.links, RunLinked{Kind: kind, ID: id})
	r.mu.Unlock()
	return r.Flush(ctx)
}

// Flush appends what has been collected, by a transition from the run as this worker
// last wrote it (and beats the row). It returns errRunEnded (and cancels the handler)
// when the run was ended by someone else.
func (r *Reporter) Flush(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = r.s.now()
	if len(r.delta) == 0 && len(r.failures) == 0 && r.omitted == 0 && len(r.links) == 0 {
		return nil
	}
	evs := r.pendingLocked()
	var known *Run
	err := pgx.BeginFunc(ctx, r.s.pool, func(tx pgx.Tx) error {
		row, found, err := lockRun(ctx, tx, r.run.ID, "")
		if err != nil {
			return err
		}
		if !found {
			return errRunEnded
		}
		known, _, err = r.s.transition(ctx, tx, row, r.known, func(run *Run, row runRow) ([]eventstore.NewEvent, rowUpdate, error) {
			if run.Terminal() || row.status != StatusRunning {
				return nil, rowUpdate{}, errRunEnded
			}
			return evs, rowUpdate{heartbeat: r.s.now().UTC()}, nil
		})
		return err
	})
	if errors.Is(err, errRunEnded) {
		r.cancel()
		return err
	}
	if err != nil {
		return fmt.Errorf("operations: flush progress: %w", err)
	}
	r.known = known
	r.delta, r.failures, r.links, r.calls, r.omitted = nil, nil, nil, 0, 0
	r.s.store.WakeSealer()
	return nil
}

// pendingLocked (r.mu held) is what has been collected and not yet appended: one
// RunProgressed with the summed deltas, one RunFailuresAppended, the RunLinked events.
func (r *Reporter) pendingLocked() []eventstore.NewEvent {
	meta := systemMeta(r.run, "worker")
	var evs []eventstore.NewEvent
	if len(r.delta) > 0 {
		evs = append(evs, eventstore.NewEvent{Data: RunProgressed{Delta: r.delta}, Metadata: meta})
	}
	if len(r.failures) > 0 || r.omitted > 0 {
		fs := r.failures
		if fs == nil {
			fs = []Failure{}
		}
		evs = append(evs, eventstore.NewEvent{Data: RunFailuresAppended{Failures: fs, Omitted: r.omitted}, Metadata: meta})
	}
	for _, l := range r.links {
		evs = append(evs, eventstore.NewEvent{Data: l, Metadata: meta})
	}
	return evs
}

// failedCount is how many item failures the handler reported.
func (r *Reporter) failedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
