package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// legacyTypes maps each legacy run table to the run type its rows become.
var legacyTypes = map[string]string{
	"inventory_sync_runs":   "inventory.sync",
	"entra_group_sync_runs": "directory.groups.sync",
	"backup_schedule_runs":  "backup_schedule.scheduled",
}

// LegacyTables lists the legacy run tables an import accepts.
func LegacyTables() []string {
	return []string{"backup_schedule_runs", "entra_group_sync_runs", "inventory_sync_runs"}
}

// LegacyRow is one row of a legacy run table, as the import file carries it.
type LegacyRow struct {
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

// LegacyResult is what an import did with one row.
type LegacyResult string

// The import results.
const (
	LegacyImported  LegacyResult = "imported"  // became an imported run
	LegacyLinked    LegacyResult = "linked"    // linked to its operation run
	LegacyUnchanged LegacyResult = "unchanged" // imported or linked before
)

// ErrLegacyRow wraps why a legacy row was refused.
var ErrLegacyRow = errors.New("invalid legacy row")

// legacyNamespace derives imported runs' ids: the same row always becomes the same run,
// so importing a file again changes nothing.
var legacyNamespace = uuid.MustParse("6f0a3c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b")

// LegacyRunID is the id of the run a legacy row without an operation run becomes.
func LegacyRunID(table string, id int64) uuid.UUID {
	return uuid.NewSHA1(legacyNamespace, fmt.Appendf(nil, "%s:%d", table, id))
}

// legacyOutcome maps a legacy status to the outcome of the imported run.
func legacyOutcome(status string, counts Counts) Outcome {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "completed", "succeeded", "success", "done":
		if counts["failed"] > 0 {
			return OutcomePartiallySucceeded
		}
		return OutcomeSucceeded
	case "partial", "partially_succeeded", "completed_with_errors":
		return OutcomePartiallySucceeded
	case "cancelled", "canceled":
		return OutcomeCancelled
	default: // failed, error, and runs that never finished: history, not work in flight
		return OutcomeFailed
	}
}

// ImportLegacy records one legacy row as events: a row naming its operation run is
// linked to it (LegacyRunLinked in the run's stream); any other becomes an imported run
// (LegacyRunImported in a stream of its own, id LegacyRunID). Doing it again changes
// nothing. Counts keys outside the closed set are dropped; the error text is sanitized.
func (s *Service) ImportLegacy(ctx context.Context, row LegacyRow) (LegacyResult, error) {
	typ, ok := legacyTypes[row.Table]
	if !ok {
		return "", fmt.Errorf("%w: table %q is not a legacy run table (%s)", ErrLegacyRow, row.Table, strings.Join(LegacyTables(), ", "))
	}
	if row.ID <= 0 {
		return "", fmt.Errorf("%w: id must be a positive number", ErrLegacyRow)
	}
	meta := eventstore.Metadata{Actor: "system:legacy-import"}
	if row.OperationRunID != nil {
		run, err := s.Load(ctx, *row.OperationRunID)
		if errors.Is(err, ErrNotFound) {
			return "", fmt.Errorf("%w: %s %d: operation run %s does not exist", ErrLegacyRow, row.Table, row.ID, *row.OperationRunID)
		}
		if err != nil {
			return "", err
		}
		if row.TenantID != uuid.Nil && run.TenantID != row.TenantID {
			return "", fmt.Errorf("%w: %s %d: operation run %s belongs to another tenant", ErrLegacyRow, row.Table, row.ID, run.ID)
		}
		for _, l := range run.Legacy {
			if l.Table == row.Table && l.LegacyID == row.ID {
				return LegacyUnchanged, nil
			}
		}
		meta.WorkspaceID, meta.TenantID, meta.CorrelationID = run.WorkspaceID, run.TenantID, run.ID
		err = s.legacyTx(ctx, RunStream(run.ID), run.Version, eventstore.NewEvent{
			Data: LegacyRunLinked{Table: row.Table, LegacyID: row.ID}, Metadata: meta}, row, LegacyLinked)
		if errors.Is(err, eventstore.ErrConcurrency) {
			return s.ImportLegacy(ctx, row) // the run moved on meanwhile: look again
		}
		if err != nil {
			return "", err
		}
		return LegacyLinked, nil
	}

	t, err := s.tenancy.Tenant(ctx, row.TenantID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", fmt.Errorf("%w: %s %d: unknown tenant %s", ErrLegacyRow, row.Table, row.ID, row.TenantID)
	}
	if err != nil {
		return "", err
	}
	counts := Counts{}
	for k, v := range row.Counts {
		if summaryKeySet[k] && v >= 0 {
			counts[k] = v
		}
	}
	outcome := legacyOutcome(row.Status, counts)
	var failures []Failure
	if msg := strings.TrimSpace(row.Error); msg != "" {
		failures = []Failure{SanitizeFailure(ReasonUnknownError, msg)}
	}
	started, finished := row.StartedAt.UTC(), row.FinishedAt.UTC()
	if finished.IsZero() {
		finished = started
	}
	legacyContext, _ := json.Marshal(map[string]any{"legacyTable": row.Table, "legacyId": row.ID, "legacyStatus": row.Status})
	id := LegacyRunID(row.Table, row.ID)
	meta.WorkspaceID, meta.TenantID, meta.CorrelationID = t.WorkspaceID, t.ID, id
	err = s.legacyTx(ctx, RunStream(id), eventstore.NoStream, eventstore.NewEvent{Data: LegacyRunImported{
		Table: row.Table, LegacyID: row.ID, Type: typ, WorkspaceID: t.WorkspaceID, TenantID: t.ID,
		Status: StatusCompleted, Outcome: outcome, Counts: counts, Failures: failures,
		StartedAt: started, FinishedAt: finished, Context: legacyContext,
	}, Metadata: meta}, row, LegacyImported)
	if errors.Is(err, eventstore.ErrConcurrency) {
		return LegacyUnchanged, nil
	}
	if err != nil {
		return "", err
	}
	return LegacyImported, nil
}

// legacyTx appends a legacy event and its audit entry in one transaction.
func (s *Service) legacyTx(ctx context.Context, stream eventstore.StreamID, expected int64, ev eventstore.NewEvent, row LegacyRow, res LegacyResult) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.store.AppendTx(ctx, tx, stream, expected, ev); err != nil {
			return err
		}
		after, err := json.Marshal(struct {
			RunID uuid.UUID `json:"runId"`
		}{ev.Metadata.CorrelationID})
		if err != nil {
			return fmt.Errorf("operations: legacy audit: %w", err)
		}
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: "legacy.import", Outcome: string(res), Actor: ev.Metadata.Actor,
			WorkspaceID: ev.Metadata.WorkspaceID, TenantID: ev.Metadata.TenantID, Target: fmt.Sprintf("%s:%d", row.Table, row.ID),
			After: after})
	})
}
