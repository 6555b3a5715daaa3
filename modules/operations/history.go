package operations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
)

// HistoricRun is a run that already ended, written in one append: demo history and
// benchmark data. It goes to the log only (no ops_runs row, no dispatch, no outbox
// message, no notification): nothing downstream should react to the past, and the
// projections read it like any other run.
type HistoricRun struct {
	ID          uuid.UUID
	Type        string
	WorkspaceID uuid.UUID
	TenantID    uuid.UUID
	Initiator   Initiator
	Context     json.RawMessage
	QueuedAt    time.Time
	StartedAt   time.Time // zero for a blocked run
	CompletedAt time.Time
	Outcome     Outcome // succeeded, partially_succeeded, failed, blocked or cancelled
	Counts      Counts
	Failures    []Failure
	ReasonCode  ReasonCode // failed and blocked runs
	Message     string
}

// historyEvents turns h into the events a live run would have recorded.
func historyEvents(h HistoricRun) ([]eventstore.NewEvent, error) {
	info, ok := LookupType(h.Type)
	if !ok {
		return nil, fmt.Errorf("operations: historic run %s: unknown type %q", h.ID, h.Type)
	}
	if err := ValidateCounts(h.Counts); err != nil {
		return nil, fmt.Errorf("operations: historic run %s: %w", h.ID, err)
	}
	ctxJSON := h.Context
	if len(ctxJSON) == 0 {
		ctxJSON = json.RawMessage(`{}`)
	}
	sum := sha256.Sum256([]byte("history\x00" + h.ID.String()))
	meta := eventstore.Metadata{Actor: "system:history", WorkspaceID: h.WorkspaceID, TenantID: h.TenantID, CorrelationID: h.ID}
	evs := []eventstore.NewEvent{{Data: RunQueued{RunID: h.ID, Type: info.Type, WorkspaceID: h.WorkspaceID, TenantID: h.TenantID,
		Initiator: h.Initiator, IdentityHash: hex.EncodeToString(sum[:]), Context: ctxJSON, SourceSurface: "history",
		QueuedAt: h.QueuedAt.UTC()}, Metadata: meta}}
	if h.Outcome != OutcomeBlocked {
		evs = append(evs, eventstore.NewEvent{Data: RunStarted{WorkerID: "history", StartedAt: h.StartedAt.UTC()}, Metadata: meta})
	}
	if len(h.Counts) > 0 {
		evs = append(evs, eventstore.NewEvent{Data: RunProgressed{Delta: h.Counts}, Metadata: meta})
	}
	if len(h.Failures) > 0 {
		fs := make([]Failure, len(h.Failures))
		for i, f := range h.Failures {
			fs[i] = SanitizeFailure(f.ReasonCode, f.Message)
		}
		evs = append(evs, eventstore.NewEvent{Data: RunFailuresAppended{Failures: fs}, Metadata: meta})
	}
	done := h.CompletedAt.UTC()
	switch h.Outcome {
	case OutcomeSucceeded, OutcomePartiallySucceeded:
		evs = append(evs, eventstore.NewEvent{Data: RunCompleted{Outcome: h.Outcome, CompletedAt: done}, Metadata: meta})
	case OutcomeFailed:
		evs = append(evs, eventstore.NewEvent{Data: RunFailed{ReasonCode: h.ReasonCode, Message: Sanitize(h.Message), CompletedAt: done}, Metadata: meta})
	case OutcomeBlocked:
		_, next := ReasonInfo(h.ReasonCode)
		evs = append(evs, eventstore.NewEvent{Data: RunBlocked{ReasonCode: h.ReasonCode, Message: Sanitize(h.Message),
			NextSteps: []NextStep{{Label: next}}, CompletedAt: done}, Metadata: meta})
	case OutcomeCancelled:
		evs = append(evs, eventstore.NewEvent{Data: RunCancelled{Reason: Sanitize(h.Message), CompletedAt: done}, Metadata: meta})
	default:
		return nil, fmt.Errorf("operations: historic run %s: outcome %q is not terminal", h.ID, h.Outcome)
	}
	return evs, nil
}

// AppendHistory writes finished runs to the log in one transaction, one stream each.
// A run whose stream exists already fails the whole call (eventstore.ErrConcurrency).
func (s *Service) AppendHistory(ctx context.Context, runs []HistoricRun) error {
	b := s.store.NewBatch()
	for _, h := range runs {
		evs, err := historyEvents(h)
		if err != nil {
			return err
		}
		if _, err := b.Append(ctx, RunStream(h.ID), eventstore.NoStream, evs...); err != nil {
			return err
		}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return b.Send(ctx, tx) })
}
