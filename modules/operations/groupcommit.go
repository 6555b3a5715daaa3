package operations

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
)

// Group commit of the start gate. A start's transaction is bound by its commit (the
// WAL flush), so starts that arrive together share one: concurrent admissions queue
// here, and a committer takes everything waiting (up to groupMax) and writes it in one
// transaction. Nothing lingers: a committer takes what is already queued, and a start
// that finds itself alone takes the single-start path (admitAlone, one round trip), run
// by the committer, so that the starts arriving meanwhile queue for the next group.
//
// In the shared transaction the database still decides each start on its own: the runs
// are inserted with ON CONFLICT DO NOTHING RETURNING against the active-identity index
// (and, for a permanent identity, its row in ops_permanent_identities first, the same
// way), so a duplicate is skipped instead of aborting its neighbours, and answered deduped
// with the run that holds its identity (found in the same transaction, whether it
// committed before or is one of the batch's own). Accepted starts get RunQueued and the
// notification (one statement for all the batch's new streams), their dispatch message
// and their audit entry; deduped ones their audit entry. Should the transaction fail
// anyway, every start of the batch goes the single-start way, so a bad start fails
// alone.
//
// It is on with Options.GroupCommit. Measured on the shared 2-core VM (2026-12-01, load
// about 30, CPU-bound rather than fsync-bound) it was slower than a transaction per
// start at 8 callers (fewer transactions in flight, two round trips a group), so it is
// off by default; it is for a machine where the commit flush is the bound.
//
// Only starts whose identity decides them alone are grouped: provider-backed starts
// (scope lock) and runbooks naming a scope (scope lock) keep admitAlone.

// groupMax bounds the starts of one group transaction.
const groupMax = 64

// groupCommitters is how many group transactions may be in flight at once (2 and 4
// measured: 4 was faster, more transactions in flight).
const groupCommitters = 4

// groupTimeout bounds one group transaction.
const groupTimeout = 30 * time.Second

// groupCommit is the queue of admissions waiting for a group transaction.
type groupCommit struct {
	queue drainQueue[*groupedStart]
	// grouped counts the starts decided in a group transaction, failed the group
	// transactions that failed (their starts went alone).
	grouped, failed atomic.Int64
}

// groupedStart is one admission in the queue and, once its group committed, its answer.
type groupedStart struct {
	ctx  context.Context
	a    *admission
	done chan struct{}
	out  StartOutcome
	err  error
	// alone: the start was not decided in a group (it was alone, its group failed, or
	// its answer needs the single-start path); its caller admits it on its own.
	alone bool

	// Set while the group is written.
	runID uuid.UUID
	now   time.Time
	note  eventstore.NewEvent
	jobs  *eventstore.Batch
}

func (g *groupedStart) finish(out StartOutcome, err error) {
	g.out, g.err = out, err
	close(g.done)
}

func (g *groupedStart) goAlone() {
	g.alone = true
	close(g.done)
}

// GroupCommitStats reports whether the gate's group commit is on (Options.GroupCommit),
// how many starts it decided in group transactions and how many of its group
// transactions failed (their starts went alone).
func (s *Service) GroupCommitStats() (on bool, grouped, failed int64) {
	return s.opts.GroupCommit, s.group.grouped.Load(), s.group.failed.Load()
}

// groupable reports whether a start's identity alone decides it (no scope lock).
func (a *admission) groupable() bool {
	return !a.info.ProviderBacked && a.scope() == ""
}

// admitGrouped queues a for a group transaction and waits for its answer.
func (s *Service) admitGrouped(ctx context.Context, a *admission) (StartOutcome, error) {
	g := &groupedStart{ctx: ctx, a: a, done: make(chan struct{})}
	s.group.queue.push(groupCommitters, groupMax, s.commitGroup, g)
	select {
	case <-g.done:
	case <-ctx.Done():
		// The group may still commit the start (as a cancelled single start may).
		return StartOutcome{}, ctx.Err()
	}
	if g.alone {
		return s.admitAlone(ctx, a)
	}
	return g.out, g.err
}

// commitGroup decides batch in one transaction; the starts it cannot decide go alone.
func (s *Service) commitGroup(batch []*groupedStart) {
	live := batch[:0]
	for _, g := range batch {
		if err := g.ctx.Err(); err != nil {
			g.finish(StartOutcome{}, err)
			continue
		}
		live = append(live, g)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		// Alone: the single-start path is one round trip. The committer runs it itself, so
		// it stays busy and the starts arriving meanwhile wait to share the next group.
		g := live[0]
		g.finish(s.admitAlone(g.ctx, g.a))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), groupTimeout)
	defer cancel()
	ready := live[:0]
	for _, g := range live {
		if err := s.prepareGrouped(ctx, g); err != nil {
			g.goAlone() // the single-start path answers it (dispatch failed, or the error)
			continue
		}
		ready = append(ready, g)
	}
	if len(ready) == 0 {
		return
	}
	if err := s.writeGroup(ctx, ready); err != nil {
		s.log.Warn("start group failed; its starts go one by one", "starts", len(ready), "error", Sanitize(err.Error()))
		s.group.failed.Add(1)
		for _, g := range ready {
			g.goAlone()
		}
	}
}

// prepareGrouped gives g its run id, time, notification and dispatch message.
func (s *Service) prepareGrouped(ctx context.Context, g *groupedStart) error {
	runID, err := uuid.NewV7()
	if err != nil {
		return err
	}
	g.runID, g.now = runID, s.now().UTC()
	note, notifies, err := queuedNotification(g.a.info, g.a.req, runID)
	if err != nil {
		return err
	}
	if notifies {
		g.note = eventstore.NewEvent{Data: note, Metadata: g.a.meta(runID)}
	}
	g.jobs = s.store.NewBatch()
	return s.dispatch.QueueDispatch(ctx, g.jobs, Job{RunID: runID, Type: g.a.info.Type})
}

// writeGroup runs the group transaction: it answers every start of gs (finish) or
// returns an error and answers none, or answers those it decided and sends the others
// alone.
func (s *Service) writeGroup(ctx context.Context, gs []*groupedStart) error {
	n := len(gs)
	var (
		runIDs     = make([][16]byte, n)
		types      = make([]string, n)
		workspaces = make([][16]byte, n)
		tenants    = make([]*uuid.UUID, n)
		identities = make([]string, n)
		initiators = make([]*uuid.UUID, n)
		times      = make([]time.Time, n)
		permanent  = make([]bool, n)
		keys       []string
	)
	for i, g := range gs {
		runIDs[i], types[i], workspaces[i] = g.runID, g.a.info.Type, g.a.req.WorkspaceID
		tenants[i], identities[i] = nullID(g.a.req.TenantID), g.a.identity
		initiators[i], times[i] = nullID(g.a.req.Initiator.UserID), g.now
		permanent[i] = g.a.info.Identity.Permanent()
		keys = append(keys, g.a.admissionKeys()...)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed { // end the transaction; a connection that cannot is closed on release
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	// The first round trip: BEGIN, the identity locks, the runs that got their identity
	// (a permanent identity is taken first, in the same statement: a run whose identity
	// another run took forever is not inserted), then who holds each identity (a
	// committed run, or one of this group's; for a permanent identity, the run that took
	// it, ended or not).
	pb := &pgx.Batch{}
	pb.Queue("BEGIN")
	opening := 1
	if len(keys) > 0 {
		pb.Queue(lockKeysSQL, keys) // before anything writes: see order.go
		opening++
	}
	pb.Queue(`WITH x AS (
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::timestamptz[], $8::bool[])
				AS x(r, t, w, tn, i, u, q, p)),
		taken AS (INSERT INTO ops_permanent_identities (identity_hash, run_id) SELECT i, r FROM x WHERE p
			ON CONFLICT DO NOTHING RETURNING run_id)
		INSERT INTO ops_runs (run_id, type, workspace_id, tenant_id, status, outcome, identity_hash, initiator_user_id, queued_at)
		SELECT r, t, w, tn, 'queued', 'pending', i, u, q FROM x WHERE NOT p OR r IN (SELECT run_id FROM taken)
		ON CONFLICT DO NOTHING RETURNING run_id`, runIDs, types, workspaces, tenants, identities, initiators, times, permanent)
	pb.Queue(`SELECT identity_hash, run_id, status FROM ops_runs WHERE identity_hash = ANY($1) AND status IN ('queued', 'running')
		UNION ALL
		SELECT p.identity_hash, r.run_id, r.status FROM ops_permanent_identities p JOIN ops_runs r USING (run_id)
		WHERE p.identity_hash = ANY($1)`, identities)
	br := conn.SendBatch(ctx, pb)
	for range opening { // BEGIN, the identity locks
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("begin: %w", err)
		}
	}
	accepted := map[uuid.UUID]bool{}
	rows, err := br.Query()
	if err == nil {
		for rows.Next() {
			var id uuid.UUID
			if err = rows.Scan(&id); err != nil {
				break
			}
			accepted[id] = true
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		_ = br.Close()
		return fmt.Errorf("insert runs: %w", err)
	}
	type holder struct {
		id     uuid.UUID
		status Status
	}
	holders := map[string]holder{}
	rows, err = br.Query()
	if err == nil {
		for rows.Next() {
			var ident string
			var h holder
			if err = rows.Scan(&ident, &h.id, &h.status); err != nil {
				break
			}
			holders[ident] = h
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("identity holders: %w", err)
	}

	// The events and audit entries (one statement), the accepted starts' dispatch
	// messages.
	b := s.store.NewBatch()
	streams := make([]eventstore.NewStream, 0, 2*n)
	answers := make([]StartOutcome, n)
	decided := make([]bool, n)
	for i, g := range gs {
		a := g.a
		var entry audit.AuditRecorded
		if accepted[g.runID] {
			evs := []eventstore.NewEvent{{Data: a.queued(g.runID, g.now), Metadata: a.meta(g.runID)}}
			if g.note.Data != nil {
				evs = append(evs, g.note)
			}
			streams = append(streams, eventstore.NewStream{Stream: RunStream(g.runID), Events: evs})
			entry = a.startEntry(StartAccepted, g.runID, "")
			entry.After = a.runAfter(StatusQueued, OutcomePending)
			b.Include(g.jobs)
			answers[i] = a.accepted(g.runID)
		} else {
			h, ok := holders[a.identity]
			if !ok { // the holder ended meanwhile: the single-start path tries again
				continue
			}
			answers[i] = a.deduped(h.id, h.status)
			entry = a.startEntry(StartDeduped, h.id, "")
		}
		st, err := audit.NewStream(entry)
		if err != nil {
			return fmt.Errorf("audit entry: %w", err)
		}
		streams = append(streams, st)
		decided[i] = true
	}
	if _, err := b.AppendNew(ctx, streams...); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	// The second round trip: all that, and COMMIT.
	if err := b.CommitOpen(ctx, conn.Conn()); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true // or rolled back by CommitOpen
	for i, g := range gs {
		if decided[i] {
			s.group.grouped.Add(1)
			g.finish(answers[i], nil)
		} else {
			g.goAlone()
		}
	}
	return nil
}
