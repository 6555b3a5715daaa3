package projections

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of run_links: its Apply (apply.sql) and its reader (readers.sql).
var (
	sqlRunLinksInsert = sqlQueries.Table("RunLinksInsert")
	sqlLinkedRuns     = sqlQueries.Get("LinkedRuns")
)

// RunLinks records which runs linked which objects (operations.RunLinked): the read
// model behind the "Runs" table of an object's hub page.
type RunLinks struct{}

// Name implements Projection.
func (RunLinks) Name() string { return "run_links" }

// Version implements Projection.
func (RunLinks) Version() int { return 1 }

// Tables implements Projection.
func (RunLinks) Tables() []Table {
	return []Table{{Name: "rm_run_links_v1", View: "rm_run_links"}}
}

// Apply implements Projection: one row per (kind, object, run), the first link's time.
func (p RunLinks) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	var kinds []string
	var objects, runs []uuid.UUID
	var at []time.Time
	var positions []int64
	for _, e := range events {
		l, ok := e.Data.(operations.RunLinked)
		if !ok {
			continue
		}
		kinds = append(kinds, string(l.Kind))
		objects = append(objects, l.ID)
		runs = append(runs, e.StreamIDUUID())
		at = append(at, e.RecordedAt)
		positions = append(positions, e.Position)
	}
	if len(kinds) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, sqlRunLinksInsert.For(target.Table(p.Tables()[0].Name)),
		kinds, eventstore.UUIDArray(objects), eventstore.UUIDArray(runs), at, positions); err != nil {
		return fmt.Errorf("run_links: insert: %w", err)
	}
	return nil
}

// LinkedFilter selects the runs that linked some objects.
type LinkedFilter struct {
	// TenantIDs are the tenants the caller may view; Tenant must be one of them.
	TenantIDs []uuid.UUID
	// Tenant is the objects' tenant: only its runs are listed.
	Tenant uuid.UUID
	// Objects are the linked objects (kind, id); a run linking several is listed once.
	Objects []operations.RunLinked
	// Since, when set, leaves out links made before it.
	Since time.Time
	// Limit is the number of runs (1..200, default 50).
	Limit int
}

// LinkedRuns returns the runs of f.Tenant that linked one of f.Objects, newest link
// first; none when the caller may not view the tenant.
func (q *RunReader) LinkedRuns(ctx context.Context, f LinkedFilter) ([]RunSummary, error) {
	if f.Tenant == uuid.Nil || !slices.Contains(f.TenantIDs, f.Tenant) || len(f.Objects) == 0 {
		return []RunSummary{}, nil
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	kinds := make([]string, len(f.Objects))
	ids := make([]uuid.UUID, len(f.Objects))
	for i, o := range f.Objects {
		kinds[i], ids[i] = string(o.Kind), o.ID
	}
	rows, err := q.pool.Query(ctx, sqlLinkedRuns, f.Tenant, kinds, eventstore.UUIDArray(ids), f.Since, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("projections: linked runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunSummary, error) { return scanSummary(r) })
	if err != nil {
		return nil, fmt.Errorf("projections: linked runs: %w", err)
	}
	return out, nil
}
