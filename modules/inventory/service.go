// Package inventory is inventory.sync: it lists the tenant's policies of every
// PolicyTypes type through Microsoft Graph and keeps their whitelisted metadata as one
// snapshot per run, in the module's own tables (inv_snapshots, inv_items). Drift
// compares snapshots through this package's Go API.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, a run-type module:
// it imports graph, operations and provider, and must not import drift or backup (they
// build on it), projections, modules/monolith, web or cmd/.
package inventory

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
)

// Service is the inventory module.
type Service struct {
	pool     *pgxpool.Pool
	provider *provider.Service
	log      *slog.Logger
	now      func() time.Time
}

// New returns the inventory service; prov may be nil for a read-only service (no
// handler can be registered then).
func New(pool *pgxpool.Pool, prov *provider.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, provider: prov, log: log, now: time.Now}
}

// Register installs the inventory.sync handler.
func (s *Service) Register(ops *operations.Service) {
	ops.Handle("inventory.sync", s.Sync)
}

// CountComplete returns how many complete snapshots the tenant has.
func (s *Service) CountComplete(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inv_snapshots WHERE tenant_id = $1 AND status = 'complete'`, tenantID).Scan(&n)
	return n, err
}

// Sync is the inventory.sync handler. Each page of each policy type is written with
// one COPY and reported as one progress delta (total, processed, succeeded, failed);
// per-type counts are kept on the snapshot. A policy type Graph refuses is a failure
// entry and leaves the snapshot partial; consent or credential failures end the run.
func (s *Service) Sync(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
	conn, err := s.provider.Connection(ctx, run)
	if err != nil {
		return "", err
	}
	w, err := s.begin(ctx, run.TenantID, run.ID)
	if err != nil {
		return "", err
	}
	if err := rep.Link(ctx, operations.LinkInventorySnapshot, w.snapshot.ID); err != nil {
		return "", err
	}
	fail := func(err error) (operations.Outcome, error) {
		if ferr := w.finish(context.WithoutCancel(ctx), SnapshotFailed, w.snapshot.Types); ferr != nil {
			s.log.Error("marking the snapshot failed", "run", run.ID, "error", failure.Sanitize(ferr.Error()))
		}
		return "", err
	}
	var firstErr error
	typesFailed := 0
	for _, typ := range PolicyTypes {
		var tc TypeCounts
		err := s.provider.Graph().List(ctx, conn, typ, func(page []graph.Object) error {
			items := make([]Item, 0, len(page))
			bad := 0
			for _, obj := range page {
				it, ok := NewItem(typ, obj)
				if !ok {
					bad++
					continue
				}
				items = append(items, it)
			}
			written, dup, err := w.add(ctx, items)
			if err != nil {
				return err
			}
			tc.Total += int64(len(page))
			tc.Succeeded += int64(written)
			tc.Failed += int64(bad)
			if bad > 0 {
				if err := rep.Fail(ctx, failure.ItemFailed, typ+": a policy without a usable id was skipped"); err != nil {
					return err
				}
			}
			// A policy listed twice (the collection changed while paging) counts once.
			tc.Total -= int64(dup)
			return rep.Progress(ctx, operations.Counts{"total": int64(len(page) - dup), "processed": int64(len(page) - dup),
				"succeeded": int64(written), "failed": int64(bad)})
		})
		w.snapshot.Types[typ] = tc
		if err == nil {
			continue
		}
		var ge *graph.Error
		if !errors.As(err, &ge) && ctx.Err() == nil {
			return fail(err) // not Graph's: the database or the reporter
		}
		if provider.Fatal(graph.KindOf(err)) || ctx.Err() != nil {
			return fail(s.provider.Failed(ctx, run, err))
		}
		typesFailed++
		if firstErr == nil {
			firstErr = err
		}
		if err := rep.Fail(ctx, provider.ReasonFor(graph.KindOf(err)), provider.Message(err)); err != nil {
			return fail(err)
		}
	}
	if typesFailed == len(PolicyTypes) {
		return fail(s.provider.Failed(ctx, run, firstErr))
	}
	status := SnapshotComplete
	if typesFailed > 0 {
		status = SnapshotPartial
	}
	for _, tc := range w.snapshot.Types {
		if tc.Failed > 0 {
			status = SnapshotPartial
		}
	}
	if err := w.finish(ctx, status, w.snapshot.Types); err != nil {
		return "", err
	}
	if status == SnapshotPartial {
		return operations.OutcomePartiallySucceeded, nil
	}
	return operations.OutcomeSucceeded, nil
}
