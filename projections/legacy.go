package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of legacy_runs: its Apply (apply.sql) and its reader (readers.sql).
var (
	sqlLegacyRunsUpsert = sqlQueries.Table("LegacyRunsUpsert")
	sqlLegacyRun        = sqlQueries.Get("LegacyRun")
)

// LegacyRuns maps legacy run rows to operation runs (spec 086): an imported row maps to
// the run it became, a linked row to the run it was linked to.
type LegacyRuns struct{}

// Name implements Projection.
func (LegacyRuns) Name() string { return "legacy_runs" }

// Version implements Projection.
func (LegacyRuns) Version() int { return 1 }

// Tables implements Projection.
func (LegacyRuns) Tables() []Table {
	return []Table{{Name: "rm_legacy_runs_v1", View: "rm_legacy_runs"}}
}

// Apply implements Projection.
func (p LegacyRuns) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	upsert := sqlLegacyRunsUpsert.For(target.Table(p.Tables()[0].Name))
	b := &pgx.Batch{}
	for _, e := range events {
		var legacyTable string
		var legacyID int64
		var imported bool
		switch ev := e.Data.(type) {
		case operations.LegacyRunImported:
			legacyTable, legacyID, imported = ev.Table, ev.LegacyID, true
		case operations.LegacyRunLinked:
			legacyTable, legacyID = ev.Table, ev.LegacyID
		default:
			continue
		}
		b.Queue(upsert,
			legacyTable, legacyID, e.StreamIDUUID(), imported, e.RecordedAt)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// ErrNoMapping is returned when a legacy row maps to no operation run.
var ErrNoMapping = errors.New("projections: legacy run has no operation run")

// LegacyRun returns the operation run a legacy row maps to.
func (q *RunReader) LegacyRun(ctx context.Context, table string, id int64) (uuid.UUID, error) {
	var run uuid.UUID
	err := q.pool.QueryRow(ctx, sqlLegacyRun, table, id).Scan(&run)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, ErrNoMapping
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("projections: legacy run: %w", err)
	}
	return run, nil
}
