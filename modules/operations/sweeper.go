package operations

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// Sweep ends runs nobody will finish: queued longer than QueuedTimeout
// (stale_queued_timeout) and running without a heartbeat for HeartbeatTimeout
// (worker_lost). Each gets RunStaleTimedOut and frees its identity and scope, so the
// same start is accepted again. It returns how many runs it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now().UTC()
	rows, err := s.pool.Query(ctx, `
		SELECT run_id, 'queued' FROM ops_runs WHERE status = 'queued' AND queued_at < $1
		UNION ALL
		SELECT run_id, 'running' FROM ops_runs WHERE status = 'running' AND heartbeat_at < $2
		LIMIT 500`, now.Add(-s.opts.QueuedTimeout), now.Add(-s.opts.HeartbeatTimeout))
	if err != nil {
		return 0, fmt.Errorf("operations: sweep: %w", err)
	}
	type stale struct {
		id     uuid.UUID
		status string
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stale, error) {
		var st stale
		return st, r.Scan(&st.id, &st.status)
	})
	if err != nil {
		return 0, fmt.Errorf("operations: sweep: %w", err)
	}
	ended := 0
	for _, st := range found {
		code, msg := ReasonStaleQueuedTimeout, "No worker picked the run up in time; it can be started again."
		// Re-check under the row lock: the worker may have finished or beaten meanwhile.
		cond, cutoff := ` AND status = 'queued' AND queued_at < $2`, now.Add(-s.opts.QueuedTimeout)
		if st.status == "running" {
			code, msg = ReasonWorkerLost, "The worker running this operation stopped responding; it can be started again."
			cond, cutoff = ` AND status = 'running' AND heartbeat_at < $2`, now.Add(-s.opts.HeartbeatTimeout)
		}
		var ok bool
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := lockEnding(ctx, tx, st.id); err != nil {
				return err
			}
			row, stillStale, err := lockRun(ctx, tx, st.id, cond, cutoff)
			if err != nil || !stillStale {
				return err
			}
			_, ok, err = s.transition(ctx, tx, row, nil, func(run *Run, row runRow) ([]eventstore.NewEvent, rowUpdate, error) {
				return ending(run, row, OutcomeFailed, RunStaleTimedOut{ReasonCode: code, Message: msg, CompletedAt: now},
					systemMeta(run, "sweeper"))
			})
			return err
		})
		if err != nil {
			return ended, fmt.Errorf("operations: sweep run %s: %w", st.id, err)
		}
		if ok {
			ended++
			s.log.Info("run timed out", "run", st.id, "reason", code)
		}
	}
	return ended, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sweep failed", "error", Sanitize(err.Error()))
			}
		}
	}
}
