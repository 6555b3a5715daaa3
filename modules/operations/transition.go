package operations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// A run changes in one way once the gate has written it: transition. The claim, the
// reporter's flush, the worker's end of a run and the sweeper each lock the run's
// ops_runs row, let transition bring the Run aggregate up to date from the stream,
// decide on the aggregate, append with the aggregate's exact version and update the
// row, all in one transaction. The stream is the write model; ops_runs is derived
// from it (see writeRow) and serves as the lock that orders writers of one run.

// runRow is a run's ops_runs row, locked by the transaction that changes the run.
type runRow struct {
	id     uuid.UUID
	status Status
}

// lockRun locks the ops_runs row of run id (SELECT … FOR UPDATE: a change of one run
// waits for the change before it, then sees it) if the row also matches cond, more of
// the WHERE clause with its arguments from $2. found is false when no row matches.
func lockRun(ctx context.Context, tx pgx.Tx, id uuid.UUID, cond string, args ...any) (row runRow, found bool, err error) {
	row, err = scanRunRow(tx.QueryRow(ctx, `SELECT run_id, status FROM ops_runs WHERE run_id = $1`+cond+` FOR UPDATE`,
		append([]any{id}, args...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return runRow{}, false, nil
	}
	if err != nil {
		return runRow{}, false, fmt.Errorf("operations: lock run %s: %w", id, err)
	}
	return row, true, nil
}

// scanRunRow scans run_id, status.
func scanRunRow(r pgx.Row) (runRow, error) {
	var row runRow
	var status string
	err := r.Scan(&row.id, &status)
	row.status = Status(status)
	return row, err
}

// rowUpdate is what a transition sets on the run's row beyond what the stream says:
// the heartbeat (zero keeps it) and the worker (empty keeps it).
type rowUpdate struct {
	heartbeat time.Time
	workerID  string
}

// decideFunc decides a change of run (up to date, with its version) given its locked
// row: the events to append and the row's heartbeat and worker. No events means
// nothing to do: nothing is written. An error is returned by transition as it is.
type decideFunc func(run *Run, row runRow) ([]eventstore.NewEvent, rowUpdate, error)

// maxTransitionConflicts bounds how often transition reloads after a concurrency error.
const maxTransitionConflicts = 3

// transition changes one run inside tx, whose row (locked by lockRun or the claim's
// SKIP LOCKED select) is row. It brings the aggregate up to date: known (a copy the
// caller keeps, never changed here) plus the events past its version, or the whole
// stream when known is nil. It asks decide, appends the events with the exact
// expected version of the aggregate and updates the row from the aggregate the events
// make (writeRow). It returns that aggregate and whether anything was written.
//
// Every writer of a run's stream that changes the run holds the row lock, so under it
// the aggregate is current; the expected version still guards the append against a
// writer that does not take the lock (a legacy link, a stale known): on a
// *eventstore.ConcurrencyError transition reloads the whole stream and decides again.
func (s *Service) transition(ctx context.Context, tx pgx.Tx, row runRow, known *Run, decide decideFunc) (*Run, bool, error) {
	run, err := s.loadTx(ctx, tx, row.id, known)
	if err != nil {
		return nil, false, err
	}
	for conflicts := 0; ; conflicts++ {
		evs, upd, err := decide(run, row)
		if err != nil || len(evs) == 0 {
			return run, false, err
		}
		res, err := s.store.AppendTx(ctx, tx, RunStream(row.id), run.Version, evs...)
		if errors.Is(err, eventstore.ErrConcurrency) && conflicts < maxTransitionConflicts {
			if run, err = s.loadTx(ctx, tx, row.id, nil); err != nil {
				return nil, false, err
			}
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("operations: run %s: append %s: %w", row.id, evs[0].Data.EventType(), err)
		}
		wasTerminal := run.Terminal()
		for _, env := range res.Events {
			run.Apply(env)
		}
		if err := writeRow(ctx, tx, row.id, run, upd, !wasTerminal && run.Terminal()); err != nil {
			return nil, false, err
		}
		return run, true, nil
	}
}

// loadTx reads run id in tx: a copy of known brought up to date with the events past
// its version, or (known nil) the whole stream.
func (s *Service) loadTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, known *Run) (*Run, error) {
	run, after := &Run{}, int64(0)
	if known != nil {
		run, after = known.clone(), known.Version
	}
	envs, err := s.store.ReadStreamTx(ctx, tx, RunStream(id), after)
	if err != nil {
		return nil, fmt.Errorf("operations: load run %s: %w", id, err)
	}
	if known == nil && len(envs) == 0 {
		return nil, fmt.Errorf("operations: run %s has a row but no events", id)
	}
	for _, e := range envs {
		run.Apply(e)
	}
	return run, nil
}

// writeRow sets the run's row to what the aggregate says (status, outcome, started and
// completed times) plus upd; a run that has just ended frees its scope lock.
func writeRow(ctx context.Context, tx pgx.Tx, id uuid.UUID, run *Run, upd rowUpdate, ended bool) error {
	if _, err := tx.Exec(ctx, updateRowSQL, rowArgs(id, run, upd)...); err != nil {
		return fmt.Errorf("operations: update run %s: %w", id, err)
	}
	if ended {
		if _, err := tx.Exec(ctx, releaseScopeSQL, id); err != nil {
			return fmt.Errorf("operations: release scope: %w", err)
		}
	}
	return nil
}

const (
	updateRowSQL = `UPDATE ops_runs SET status = $2, outcome = $3, started_at = $4, completed_at = $5,
		heartbeat_at = COALESCE($6, heartbeat_at), worker_id = COALESCE($7, worker_id) WHERE run_id = $1`
	releaseScopeSQL = `DELETE FROM ops_scope_locks WHERE run_id = $1`
)

// rowArgs are updateRowSQL's arguments.
func rowArgs(id uuid.UUID, run *Run, upd rowUpdate) []any {
	return []any{id, string(run.Status), string(run.Outcome), nullTime(run.StartedAt), nullTime(run.CompletedAt),
		nullTime(upd.heartbeat), upd.worker()}
}

// worker is the worker argument of a row update: SQL NULL (keep it) when empty.
func (u rowUpdate) worker() *string {
	if u.workerID == "" {
		return nil
	}
	return &u.workerID
}

// transitionMany is transition for several runs in tx, each row locked: one query loads them all (known[id], a copy brought up to
// date, or the whole stream), and every append and row update goes to the database in
// one pipelined batch, not three round trips a run. It returns each row's aggregate and
// whether anything was written for it. Any error, a *eventstore.ConcurrencyError
// included, fails the whole call: the caller rolls its transaction back (and may take
// the runs one by one). Under the row locks the aggregates are current, so a conflict
// means a writer that did not lock.
func (s *Service) transitionMany(ctx context.Context, tx pgx.Tx, rows []runRow, known map[uuid.UUID]*Run, decide decideFunc) ([]*Run, []bool, error) {
	after := make(map[eventstore.StreamID]int64, len(rows))
	for _, row := range rows {
		after[RunStream(row.id)] = 0
		if k := known[row.id]; k != nil {
			after[RunStream(row.id)] = k.Version
		}
	}
	streams, err := s.store.ReadStreamsTx(ctx, tx, after)
	if err != nil {
		return nil, nil, fmt.Errorf("operations: load %d runs: %w", len(rows), err)
	}
	runs, written := make([]*Run, len(rows)), make([]bool, len(rows))
	var (
		appends []eventstore.StreamAppend
		changed []int       // the rows of appends
		updates []rowUpdate // and their updates
	)
	for i, row := range rows {
		run := &Run{}
		if k := known[row.id]; k != nil {
			run = k.clone()
		}
		envs := streams[RunStream(row.id)]
		if known[row.id] == nil && len(envs) == 0 {
			return nil, nil, fmt.Errorf("operations: run %s has a row but no events", row.id)
		}
		for _, e := range envs {
			run.Apply(e)
		}
		runs[i] = run
		evs, upd, err := decide(run, row)
		if err != nil {
			return nil, nil, err
		}
		if len(evs) == 0 {
			continue
		}
		appends = append(appends, eventstore.StreamAppend{Stream: RunStream(row.id), Expected: run.Version, Events: evs})
		changed, updates = append(changed, i), append(updates, upd)
	}
	if len(appends) == 0 {
		return runs, written, nil
	}
	// The appends, the row updates and the scopes freed: three statements, however many
	// runs, in one round trip.
	b := s.store.NewBatch()
	b.PreferIndexes()
	res, err := b.AppendEach(ctx, appends...)
	if err != nil {
		return nil, nil, fmt.Errorf("operations: append to %d runs: %w", len(appends), err)
	}
	var set rowsUpdate
	var ended []uuid.UUID
	for j, i := range changed {
		run := runs[i]
		wasTerminal := run.Terminal()
		for _, env := range res[j].Events {
			run.Apply(env)
		}
		set.add(rows[i].id, run, updates[j])
		if !wasTerminal && run.Terminal() {
			ended = append(ended, rows[i].id)
		}
		written[i] = true
	}
	b.Exec(updateRowsSQL, set.args()...)
	if len(ended) > 0 {
		b.Exec(releaseScopesSQL, eventstore.UUIDArray(ended))
	}
	if err := b.Send(ctx, tx); err != nil {
		return nil, nil, fmt.Errorf("operations: write %d runs: %w", len(rows), err)
	}
	return runs, written, nil
}

// updateRowsSQL is updateRowSQL for many runs: the arrays of rowsUpdate.
const updateRowsSQL = `UPDATE ops_runs r SET status = v.status, outcome = v.outcome, started_at = v.started_at,
		completed_at = v.completed_at, heartbeat_at = COALESCE(v.heartbeat_at, r.heartbeat_at), worker_id = COALESCE(v.worker_id, r.worker_id)
	FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], $7::text[])
		AS v(run_id, status, outcome, started_at, completed_at, heartbeat_at, worker_id)
	WHERE r.run_id = v.run_id`

// releaseScopesSQL frees the scope locks of the runs $1 (uuid[]).
const releaseScopesSQL = `DELETE FROM ops_scope_locks WHERE run_id = ANY($1)`

// rowsUpdate collects updateRowsSQL's columns, a run each (rowArgs' values).
type rowsUpdate struct {
	ids                            []uuid.UUID
	statuses, outcomes             []string
	started, completed, heartbeats []*time.Time
	workers                        []*string
}

func (u *rowsUpdate) add(id uuid.UUID, run *Run, upd rowUpdate) {
	u.ids, u.statuses, u.outcomes = append(u.ids, id), append(u.statuses, string(run.Status)), append(u.outcomes, string(run.Outcome))
	u.started, u.completed = append(u.started, nullTime(run.StartedAt)), append(u.completed, nullTime(run.CompletedAt))
	u.heartbeats, u.workers = append(u.heartbeats, nullTime(upd.heartbeat)), append(u.workers, upd.worker())
}

func (u *rowsUpdate) args() []any {
	return []any{eventstore.UUIDArray(u.ids), u.statuses, u.outcomes, u.started, u.completed, u.heartbeats, u.workers}
}

// nullTime is t, or SQL NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ending decides the end of run with ev (RunCompleted, RunFailed or RunStaleTimedOut)
// and the initiator's notification; a run that has ended already is left alone.
func ending(run *Run, row runRow, outcome Outcome, ev eventstore.Event, meta eventstore.Metadata) ([]eventstore.NewEvent, rowUpdate, error) {
	if run.Terminal() || row.status == StatusCompleted {
		return nil, rowUpdate{}, nil
	}
	evs := []eventstore.NewEvent{{Data: ev, Metadata: meta}}
	note, ok, err := terminalNotification(run, outcome)
	if err != nil {
		return nil, rowUpdate{}, err
	}
	if ok {
		evs = append(evs, eventstore.NewEvent{Data: note, Metadata: meta})
	}
	return evs, rowUpdate{}, nil
}
