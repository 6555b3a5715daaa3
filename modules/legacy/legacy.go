// Package legacy imports the run rows of the legacy system (CONTRACT.md) as events: a
// row naming its operation run is linked to it (operations.LegacyRunLinked in the run's
// stream), any other becomes an imported, already finished run
// (operations.LegacyRunImported in a stream of its own, id RunID). Each row's audit entry
// is written in the same transaction. Importing a row again changes nothing. The events
// are the run module's; this package owns only the mapping from legacy rows to them.
// `atlas legacy import` drives it; the hub's legacy run view URL checks Tables.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, with the run types:
// it imports the event store, failure, tenancy and audit (tenants, the audit entry) and
// operations (the run events, RunStream, Service.Load); it must not import projections,
// modules/monolith, web or cmd/.
package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// Importer records legacy rows as run events.
type Importer struct {
	pool    *pgxpool.Pool
	store   *eventstore.Store
	tenancy *tenancy.Service
	audit   *audit.Recorder
	runs    *operations.Service
}

// New returns an importer writing to store over pool; runs loads the operation runs
// rows link to, ten resolves the tenants of imported runs, rec writes the audit entries.
func New(pool *pgxpool.Pool, store *eventstore.Store, ten *tenancy.Service, rec *audit.Recorder, runs *operations.Service) *Importer {
	return &Importer{pool: pool, store: store, tenancy: ten, audit: rec, runs: runs}
}

// runTypes maps each legacy run table to the run type its rows become.
var runTypes = map[string]string{
	"inventory_sync_runs":   "inventory.sync",
	"entra_group_sync_runs": "directory.groups.sync",
	"backup_schedule_runs":  "backup_schedule.scheduled",
}

// Tables lists the legacy run tables an import accepts.
func Tables() []string {
	return []string{"backup_schedule_runs", "entra_group_sync_runs", "inventory_sync_runs"}
}

// Row is one row of a legacy run table, as the import file carries it.
type Row struct {
	Table          string           `json:"table"`
	ID             int64            `json:"id"`
	TenantID       uuid.UUID        `json:"tenantId"`
	Status         string           `json:"status"`
	StartedAt      time.Time        `json:"startedAt"`
	FinishedAt     time.Time        `json:"finishedAt"`
	Counts         map[string]int64 `json:"counts"`
	Error          string           `json:"error"`
	OperationRunID *uuid.UUID       `json:"operationRunId"`
}

// Result is what an import did with one row.
type Result string

// The import results.
const (
	Imported  Result = "imported"  // became an imported run
	Linked    Result = "linked"    // linked to its operation run
	Unchanged Result = "unchanged" // imported or linked before
	// Recorded: kept as read-only history only (operations.LegacyRunRecorded): the row
	// names an operation run that does not exist or is another tenant's, so no run maps
	// to it.
	Recorded Result = "recorded"
)

// Stream is the stream of a legacy row kept as history only.
func Stream(table string, id int64) eventstore.StreamID {
	return operations.LegacyStream(RunID(table, id))
}

// ErrRow wraps why a legacy row was refused.
var ErrRow = errors.New("invalid legacy row")

// namespace derives imported runs' ids: the same row always becomes the same run,
// so importing a file again changes nothing.
var namespace = uuid.MustParse("6f0a3c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b")

// RunID is the id of the run a legacy row without an operation run becomes.
func RunID(table string, id int64) uuid.UUID {
	return uuid.NewSHA1(namespace, fmt.Appendf(nil, "%s:%d", table, id))
}

// outcomeOf maps a legacy status to the outcome of the imported run.
func outcomeOf(status string, counts operations.Counts) operations.Outcome {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "completed", "succeeded", "success", "done":
		if counts["failed"] > 0 {
			return operations.OutcomePartiallySucceeded
		}
		return operations.OutcomeSucceeded
	case "partial", "partially_succeeded", "completed_with_errors":
		return operations.OutcomePartiallySucceeded
	case "cancelled", "canceled":
		return operations.OutcomeCancelled
	default: // failed, error, and runs that never finished: history, not work in flight
		return operations.OutcomeFailed
	}
}

// Import records one legacy row as events: a row naming its operation run is linked
// to it (operations.LegacyRunLinked in the run's stream); a row naming a run that does
// not exist or is another tenant's is kept as read-only history of its own tenant
// (operations.LegacyRunRecorded in stream Stream: no run maps to it); any other becomes
// an imported run (operations.LegacyRunImported in a stream of its own, id RunID).
// Doing it again changes nothing. Counts keys outside the closed set are dropped; the error text is
// sanitized.
func (s *Importer) Import(ctx context.Context, row Row) (Result, error) {
	typ, ok := runTypes[row.Table]
	if !ok {
		return "", fmt.Errorf("%w: table %q is not a legacy run table (%s)", ErrRow, row.Table, strings.Join(Tables(), ", "))
	}
	if row.ID <= 0 {
		return "", fmt.Errorf("%w: id must be a positive number", ErrRow)
	}
	meta := eventstore.Metadata{Actor: "system:legacy-import"}
	if row.OperationRunID != nil {
		run, err := s.runs.Load(ctx, *row.OperationRunID)
		if errors.Is(err, operations.ErrNotFound) {
			if row.TenantID == uuid.Nil {
				return "", fmt.Errorf("%w: %s %d: operation run %s does not exist", ErrRow, row.Table, row.ID, *row.OperationRunID)
			}
			return s.record(ctx, row, "operation_run_missing")
		}
		if err != nil {
			return "", err
		}
		if row.TenantID != uuid.Nil && run.TenantID != row.TenantID {
			return s.record(ctx, row, "operation_run_other_tenant")
		}
		for _, l := range run.Legacy {
			if l.Table == row.Table && l.LegacyID == row.ID {
				return Unchanged, nil
			}
		}
		meta.WorkspaceID, meta.TenantID, meta.CorrelationID = run.WorkspaceID, run.TenantID, run.ID
		err = s.tx(ctx, operations.RunStream(run.ID), run.Version, eventstore.NewEvent{
			Data: operations.LegacyRunLinked{Table: row.Table, LegacyID: row.ID}, Metadata: meta}, row, Linked)
		if errors.Is(err, eventstore.ErrConcurrency) {
			return s.Import(ctx, row) // the run moved on meanwhile: look again
		}
		if err != nil {
			return "", err
		}
		return Linked, nil
	}

	t, err := s.tenancy.Tenant(ctx, row.TenantID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", fmt.Errorf("%w: %s %d: unknown tenant %s", ErrRow, row.Table, row.ID, row.TenantID)
	}
	if err != nil {
		return "", err
	}
	counts := countsOf(row.Counts)
	outcome := outcomeOf(row.Status, counts)
	var failures []failure.Entry
	if msg := strings.TrimSpace(row.Error); msg != "" {
		failures = []failure.Entry{failure.New(failure.UnknownError, msg)}
	}
	started, finished := row.StartedAt.UTC(), row.FinishedAt.UTC()
	if finished.IsZero() {
		finished = started
	}
	legacyContext, _ := json.Marshal(map[string]any{"legacyTable": row.Table, "legacyId": row.ID, "legacyStatus": row.Status})
	id := RunID(row.Table, row.ID)
	meta.WorkspaceID, meta.TenantID, meta.CorrelationID = t.WorkspaceID, t.ID, id
	err = s.tx(ctx, operations.RunStream(id), eventstore.NoStream, eventstore.NewEvent{Data: operations.LegacyRunImported{
		Table: row.Table, LegacyID: row.ID, Type: typ, WorkspaceID: t.WorkspaceID, TenantID: t.ID,
		Status: operations.StatusCompleted, Outcome: outcome, Counts: counts, Failures: failures,
		StartedAt: started, FinishedAt: finished, Context: legacyContext,
	}, Metadata: meta}, row, Imported)
	if errors.Is(err, eventstore.ErrConcurrency) {
		return Unchanged, nil
	}
	if err != nil {
		return "", err
	}
	return Imported, nil
}

// countsOf are a legacy row's counts within the closed set of summary keys.
func countsOf(in map[string]int64) operations.Counts {
	counts := operations.Counts{}
	for k, v := range in {
		if operations.IsSummaryKey(k) && v >= 0 {
			counts[k] = v
		}
	}
	return counts
}

// maxStatus caps a legacy row's status word kept as history.
const maxStatus = 64

// record keeps a row whose claimed operation run cannot be honoured as read-only
// history of its tenant (LegacyRunRecorded, once: a second import changes nothing). A
// row of an unknown tenant is refused: nobody could be authorized to read it.
func (s *Importer) record(ctx context.Context, row Row, unmapped string) (Result, error) {
	t, err := s.tenancy.Tenant(ctx, row.TenantID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", fmt.Errorf("%w: %s %d: unknown tenant %s", ErrRow, row.Table, row.ID, row.TenantID)
	}
	if err != nil {
		return "", err
	}
	status := strings.TrimSpace(row.Status)
	if r := []rune(status); len(r) > maxStatus {
		status = string(r[:maxStatus])
	}
	ev := operations.LegacyRunRecorded{Table: row.Table, LegacyID: row.ID, WorkspaceID: t.WorkspaceID, TenantID: t.ID,
		Status: failure.Sanitize(status), StartedAt: row.StartedAt.UTC(), FinishedAt: row.FinishedAt.UTC(),
		Counts: countsOf(row.Counts), ClaimedRunID: *row.OperationRunID, Unmapped: unmapped}
	if msg := strings.TrimSpace(row.Error); msg != "" {
		ev.Error = failure.New(failure.UnknownError, msg).Message
	}
	if row.StartedAt.IsZero() {
		ev.StartedAt = time.Time{}
	}
	if row.FinishedAt.IsZero() {
		ev.FinishedAt = time.Time{}
	}
	meta := eventstore.Metadata{Actor: "system:legacy-import", WorkspaceID: t.WorkspaceID, TenantID: t.ID}
	err = s.tx(ctx, Stream(row.Table, row.ID), eventstore.NoStream, eventstore.NewEvent{Data: ev, Metadata: meta}, row, Recorded)
	if errors.Is(err, eventstore.ErrConcurrency) {
		return Unchanged, nil
	}
	if err != nil {
		return "", err
	}
	return Recorded, nil
}

// tx appends a legacy event and its audit entry in one transaction.
func (s *Importer) tx(ctx context.Context, stream eventstore.StreamID, expected int64, ev eventstore.NewEvent, row Row, res Result) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.store.AppendTx(ctx, tx, stream, expected, ev); err != nil {
			return err
		}
		after, err := json.Marshal(struct {
			RunID uuid.UUID `json:"runId"`
		}{ev.Metadata.CorrelationID})
		if err != nil {
			return fmt.Errorf("legacy: audit: %w", err)
		}
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: "legacy.import", Outcome: string(res), Actor: ev.Metadata.Actor,
			WorkspaceID: ev.Metadata.WorkspaceID, TenantID: ev.Metadata.TenantID, Target: fmt.Sprintf("%s:%d", row.Table, row.ID),
			After: after})
	})
}
