package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of legacy_runs: its Apply (apply.sql) and its reader (readers.sql).
var (
	sqlLegacyRunsUpsert = sqlQueries.Table("LegacyRunsUpsert")
	sqlLegacyRunsRecord = sqlQueries.Table("LegacyRunsRecord")
	sqlLegacyRun        = sqlQueries.Get("LegacyRun")
	sqlLegacyHistory    = sqlQueries.Get("LegacyHistory")
)

// LegacyRuns maps legacy run rows to operation runs (spec 086): an imported row maps to
// the run it became, a linked row to the run it was linked to; a row kept as history
// only (LegacyRunRecorded) keeps its own fields and maps to no run. Version 2 added
// those rows.
type LegacyRuns struct{}

// Name implements Projection.
func (LegacyRuns) Name() string { return "legacy_runs" }

// Version implements Projection.
func (LegacyRuns) Version() int { return 2 }

// Tables implements Projection.
func (LegacyRuns) Tables() []Table {
	return []Table{{Name: "rm_legacy_runs_v2", View: "rm_legacy_runs"}}
}

// Apply implements Projection.
func (p LegacyRuns) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	table := target.Table(p.Tables()[0].Name)
	upsert := sqlLegacyRunsUpsert.For(table)
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
		case operations.LegacyRunRecorded:
			b.Queue(sqlLegacyRunsRecord.For(table), ev.Table, ev.LegacyID, e.RecordedAt, ev.WorkspaceID, ev.TenantID,
				ev.Status, nullTime(ev.StartedAt), nullTime(ev.FinishedAt), ev.Counts, ev.Error, ev.ClaimedRunID, ev.Unmapped)
			continue
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

// nullTime is t, or SQL NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// LegacyHistory is a legacy row kept as read-only history: no operation run maps to it.
type LegacyHistory struct {
	Table       string
	ID          int64
	TenantID    uuid.UUID
	WorkspaceID uuid.UUID
	// Status is the legacy row's own status word.
	Status     string
	StartedAt  *time.Time
	FinishedAt *time.Time
	Counts     map[string]int64
	// Error is the row's sanitized error text ("" when none).
	Error string
	// ClaimedRunID is the operation run the row named, which does not map.
	ClaimedRunID uuid.UUID
	// Unmapped says why: operation_run_missing or operation_run_other_tenant.
	Unmapped   string
	RecordedAt time.Time
}

// LegacyHistoryRow returns a legacy row kept as history only (ErrNoMapping when the
// read model has no such unmapped row: unknown, or mapped to a run).
func (q *RunReader) LegacyHistoryRow(ctx context.Context, table string, id int64) (LegacyHistory, error) {
	var h LegacyHistory
	var tenant, workspace, claimed pgtype.UUID
	var status pgtype.Text
	err := q.pool.QueryRow(ctx, sqlLegacyHistory, table, id).Scan(&h.Table, &h.ID, &tenant, &workspace, &status,
		&h.StartedAt, &h.FinishedAt, &h.Counts, &h.Error, &claimed, &h.Unmapped, &h.RecordedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return LegacyHistory{}, ErrNoMapping
	}
	if err != nil {
		return LegacyHistory{}, fmt.Errorf("projections: legacy history: %w", err)
	}
	h.TenantID, h.WorkspaceID, h.ClaimedRunID, h.Status = tenant.Bytes, workspace.Bytes, claimed.Bytes, status.String
	return h, nil
}

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
