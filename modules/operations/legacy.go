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
	// LegacyRecorded: kept as read-only history only (LegacyRunRecorded): the row names
	// an operation run that does not exist or is another tenant's, so no run maps to it.
	LegacyRecorded LegacyResult = "recorded"
)

// LegacyStreamType is the stream type of legacy rows kept as history only: stream
// "legacy-<LegacyRunID>".
const LegacyStreamType = "legacy"

// LegacyRunRecorded records a legacy run row kept as read-only history (spec 086): the
// row names an operation run (operationRunId) that no deterministic mapping can honour
// (the run does not exist, or belongs to another tenant), so it becomes neither a link
// nor an imported run; its legacy view URL shows the row instead of redirecting. A later
// import naming a run that exists links it (LegacyRunLinked), and the URL redirects.
type LegacyRunRecorded struct {
	Table       string    `json:"table"`
	LegacyID    int64     `json:"legacyId"`
	WorkspaceID uuid.UUID `json:"workspaceId"`
	TenantID    uuid.UUID `json:"tenantId"`
	// Status is the legacy row's own status word (trimmed, capped), not a run status.
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Counts are the row's counts within the closed set of summary keys.
	Counts Counts `json:"counts"`
	// Error is the row's error text, sanitized and capped ("" when none).
	Error string `json:"error,omitempty"`
	// ClaimedRunID is the operation run the row named.
	ClaimedRunID uuid.UUID `json:"claimedRunId"`
	// Unmapped says why the claim was not honoured: "operation_run_missing" or
	// "operation_run_other_tenant".
	Unmapped string `json:"unmapped"`
}

// EventType implements eventstore.Event.
func (LegacyRunRecorded) EventType() string { return "LegacyRunRecorded" }

// LegacyStream is the stream of a legacy row kept as history only.
func LegacyStream(table string, id int64) eventstore.StreamID {
	return eventstore.NewStreamID(LegacyStreamType, LegacyRunID(table, id))
}

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
// linked to it (LegacyRunLinked in the run's stream); a row naming a run that does not
// exist or is another tenant's is kept as read-only history of its own tenant
// (LegacyRunRecorded in stream LegacyStream: no run maps to it); any other becomes an
// imported run (LegacyRunImported in a stream of its own, id LegacyRunID). Doing it
// again changes nothing. Counts keys outside the closed set are dropped; the error text is sanitized.
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
			if row.TenantID == uuid.Nil {
				return "", fmt.Errorf("%w: %s %d: operation run %s does not exist", ErrLegacyRow, row.Table, row.ID, *row.OperationRunID)
			}
			return s.recordLegacy(ctx, row, "operation_run_missing")
		}
		if err != nil {
			return "", err
		}
		if row.TenantID != uuid.Nil && run.TenantID != row.TenantID {
			return s.recordLegacy(ctx, row, "operation_run_other_tenant")
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
	counts := legacyCounts(row.Counts)
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

// legacyCounts are a legacy row's counts within the closed set of summary keys.
func legacyCounts(in map[string]int64) Counts {
	counts := Counts{}
	for k, v := range in {
		if summaryKeySet[k] && v >= 0 {
			counts[k] = v
		}
	}
	return counts
}

// maxLegacyStatus caps a legacy row's status word kept as history.
const maxLegacyStatus = 64

// recordLegacy keeps a row whose claimed operation run cannot be honoured as read-only
// history of its tenant (LegacyRunRecorded, once: a second import changes nothing). A
// row of an unknown tenant is refused: nobody could be authorized to read it.
func (s *Service) recordLegacy(ctx context.Context, row LegacyRow, unmapped string) (LegacyResult, error) {
	t, err := s.tenancy.Tenant(ctx, row.TenantID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", fmt.Errorf("%w: %s %d: unknown tenant %s", ErrLegacyRow, row.Table, row.ID, row.TenantID)
	}
	if err != nil {
		return "", err
	}
	status := strings.TrimSpace(row.Status)
	if r := []rune(status); len(r) > maxLegacyStatus {
		status = string(r[:maxLegacyStatus])
	}
	ev := LegacyRunRecorded{Table: row.Table, LegacyID: row.ID, WorkspaceID: t.WorkspaceID, TenantID: t.ID,
		Status: Sanitize(status), StartedAt: row.StartedAt.UTC(), FinishedAt: row.FinishedAt.UTC(),
		Counts: legacyCounts(row.Counts), ClaimedRunID: *row.OperationRunID, Unmapped: unmapped}
	if msg := strings.TrimSpace(row.Error); msg != "" {
		ev.Error = SanitizeFailure(ReasonUnknownError, msg).Message
	}
	if row.StartedAt.IsZero() {
		ev.StartedAt = time.Time{}
	}
	if row.FinishedAt.IsZero() {
		ev.FinishedAt = time.Time{}
	}
	meta := eventstore.Metadata{Actor: "system:legacy-import", WorkspaceID: t.WorkspaceID, TenantID: t.ID}
	err = s.legacyTx(ctx, LegacyStream(row.Table, row.ID), eventstore.NoStream, eventstore.NewEvent{Data: ev, Metadata: meta}, row, LegacyRecorded)
	if errors.Is(err, eventstore.ErrConcurrency) {
		return LegacyUnchanged, nil
	}
	if err != nil {
		return "", err
	}
	return LegacyRecorded, nil
}

// legacyTx appends a legacy event and its audit entry in one transaction.
func (s *Service) legacyTx(ctx context.Context, stream eventstore.StreamID, expected int64, ev eventstore.NewEvent, row LegacyRow, res LegacyResult) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.store.AppendTx(ctx, tx, stream, expected, ev); err != nil {
			return err
		}
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: "legacy.import", Outcome: string(res), Actor: ev.Metadata.Actor,
			WorkspaceID: ev.Metadata.WorkspaceID, TenantID: ev.Metadata.TenantID, Target: fmt.Sprintf("%s:%d", row.Table, row.ID)})
	})
}
