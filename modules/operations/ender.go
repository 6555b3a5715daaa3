package operations

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// Batched run ends. A worker with many runs in flight ends many of them at about the
// same time, and ending one is a transaction of its own: lock the row, load the
// stream's tail, append the end, update the row, free the scope, commit (and wait for
// the commit's WAL flush). Ends that are waiting together share one transaction:
// execute queues its end here, and an ender takes everything queued (up to endMax)
// and writes it with transitionMany: one statement takes the advisory locks of the
// identities and scopes the ends free (order.go: a start of one of them waits, and
// is sealed after the end), one locks the rows (in run id order, so two enders never
// deadlock), one query loads the tails, one pipelined batch appends and updates, one
// commit. Nothing lingers: an ender takes what is already queued, and a lone end is a
// batch of one.
//
// Each end is still decided on its own, under its row lock, by the same decide as the
// one-run path (a run the sweeper ended meanwhile gets nothing). Should the batch
// fail (a deadlock with a writer that locks several rows, a bad run), every end of it
// goes the one-run way (endAlone), so a bad end fails alone.

// endMax bounds the ends of one batched end transaction.
const endMax = 128

// endersMax is how many batched end transactions may be in flight at once.
const endersMax = 2

// endTimeout bounds one end transaction.
const endTimeout = 30 * time.Second

// endQueue is the queue of run ends waiting for an ender.
type endQueue struct {
	queue drainQueue[*pendingEnd]
	// batched counts the ends written in batches of two or more, failed the batches
	// that failed (their ends went alone).
	batched, failed atomic.Int64
}

// pendingEnd is one run's end: the run as its worker last wrote it and the decision
// to take under the row lock.
type pendingEnd struct {
	id     uuid.UUID
	known  *Run
	decide decideFunc
	err    error
	done   chan struct{}
}

// endRun ends run id as decide says (see transition), in a batched end transaction
// with the other ends queued meanwhile, and returns when it has committed.
func (s *Service) endRun(id uuid.UUID, known *Run, decide decideFunc) error {
	p := &pendingEnd{id: id, known: known, decide: decide, done: make(chan struct{})}
	s.endRuns(p)
	return p.err
}

// endRuns queues ends (together: an ender that starts now takes them in one batch) and
// waits until each has committed or failed (its err).
func (s *Service) endRuns(ends ...*pendingEnd) {
	s.ends.queue.push(endersMax, endMax, s.writeEnds, ends...)
	for _, p := range ends {
		<-p.done
	}
}

// writeEnds writes one batch of ends: together, or one by one if together fails.
func (s *Service) writeEnds(batch []*pendingEnd) {
	ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
	err := s.endBatch(ctx, batch)
	cancel()
	if err != nil && len(batch) > 1 {
		s.ends.failed.Add(1)
		s.log.Warn("a batched end failed; ending its runs one by one", "runs", len(batch), "error", Sanitize(err.Error()))
		var wg sync.WaitGroup
		for _, p := range batch {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
				defer cancel()
				p.err = s.endAlone(ctx, p)
			})
		}
		wg.Wait()
	} else {
		if len(batch) > 1 {
			s.ends.batched.Add(int64(len(batch)))
		}
		for _, p := range batch {
			p.err = err
		}
	}
	s.store.WakeSealer()
	for _, p := range batch {
		close(p.done)
	}
}

// endBatch writes the ends of batch in one transaction. A run whose row is gone is
// left alone, as lockRun's callers do.
func (s *Service) endBatch(ctx context.Context, batch []*pendingEnd) error {
	ids := make([]uuid.UUID, len(batch))
	byID := make(map[uuid.UUID]*pendingEnd, len(batch))
	known := make(map[uuid.UUID]*Run, len(batch))
	for i, p := range batch {
		ids[i], byID[p.id], known[p.id] = p.id, p, p.known
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockEnding(ctx, tx, ids...); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT run_id, status FROM ops_runs WHERE run_id = ANY($1) ORDER BY run_id FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (runRow, error) { return scanRunRow(r) })
		if err != nil || len(locked) == 0 {
			return err
		}
		_, _, err = s.transitionMany(ctx, tx, locked, known, func(run *Run, row runRow) ([]eventstore.NewEvent, rowUpdate, error) {
			return byID[row.id].decide(run, row)
		})
		return err
	})
}

// endAlone writes one end in a transaction of its own.
func (s *Service) endAlone(ctx context.Context, p *pendingEnd) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockEnding(ctx, tx, p.id); err != nil {
			return err
		}
		row, found, err := lockRun(ctx, tx, p.id, "")
		if err != nil || !found {
			return err
		}
		_, _, err = s.transition(ctx, tx, row, p.known, p.decide)
		return err
	})
}
