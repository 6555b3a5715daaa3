// Package historygen is the bench/demo writer: it appends finished runs directly to the
// event log, skipping the gate, dispatch and the workers; never used by a start surface.
// Each run becomes, in one append, the events a live run would have recorded (queued,
// started, progressed, failures, its end), in the log only: no ops_runs row, no outbox
// message, no notification, so nothing downstream reacts to the past while the
// projections read it like any other run. `atlas bench seed` fills a database with it;
// the demo does not (its history is real runs: monolith.SeedDemoRuns).
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, with the run types:
// it imports the event store, failure and operations (the run events, the catalog,
// RunStream); it must not import projections, modules/monolith, web or cmd/, and no
// production start path (the gate, a handler, web's start surfaces) may call it.
package historygen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// Run is a run that already ended, written in one append: demo history and
// benchmark data. It goes to the log only (no ops_runs row, no dispatch, no outbox
// message, no notification): nothing downstream should react to the past, and the
// projections read it like any other run.
type Run struct {
	ID          uuid.UUID
	Type        string
	WorkspaceID uuid.UUID
	TenantID    uuid.UUID
	Initiator   operations.Initiator
	Context     json.RawMessage
	QueuedAt    time.Time
	StartedAt   time.Time // zero for a blocked run
	CompletedAt time.Time
	Outcome     operations.Outcome // succeeded, partially_succeeded, failed, blocked or cancelled
	Counts      operations.Counts
	Failures    []failure.Entry
	ReasonCode  failure.Code // failed and blocked runs
	Message     string
}

// events turns h into the events a live run would have recorded.
func events(h Run) ([]eventstore.NewEvent, error) {
	info, ok := operations.LookupType(h.Type)
	if !ok {
		return nil, fmt.Errorf("historygen: run %s: unknown type %q", h.ID, h.Type)
	}
	if err := operations.ValidateCounts(h.Counts); err != nil {
		return nil, fmt.Errorf("historygen: run %s: %w", h.ID, err)
	}
	ctxJSON := h.Context
	if len(ctxJSON) == 0 {
		ctxJSON = json.RawMessage(`{}`)
	}
	sum := sha256.Sum256([]byte("history\x00" + h.ID.String()))
	meta := eventstore.Metadata{Actor: "system:history", WorkspaceID: h.WorkspaceID, TenantID: h.TenantID, CorrelationID: h.ID}
	evs := []eventstore.NewEvent{{Data: operations.RunQueued{RunID: h.ID, Type: info.Type, WorkspaceID: h.WorkspaceID, TenantID: h.TenantID,
		Initiator: h.Initiator, IdentityHash: hex.EncodeToString(sum[:]), Context: ctxJSON, SourceSurface: "history",
		QueuedAt: h.QueuedAt.UTC()}, Metadata: meta}}
	if h.Outcome != operations.OutcomeBlocked {
		evs = append(evs, eventstore.NewEvent{Data: operations.RunStarted{WorkerID: "history", StartedAt: h.StartedAt.UTC()}, Metadata: meta})
	}
	if len(h.Counts) > 0 {
		evs = append(evs, eventstore.NewEvent{Data: operations.RunProgressed{Delta: h.Counts}, Metadata: meta})
	}
	if len(h.Failures) > 0 {
		fs := make([]failure.Entry, len(h.Failures))
		for i, f := range h.Failures {
			fs[i] = failure.New(f.ReasonCode, f.Message)
		}
		evs = append(evs, eventstore.NewEvent{Data: operations.RunFailuresAppended{Failures: fs}, Metadata: meta})
	}
	done := h.CompletedAt.UTC()
	switch h.Outcome {
	case operations.OutcomeSucceeded, operations.OutcomePartiallySucceeded:
		evs = append(evs, eventstore.NewEvent{Data: operations.RunCompleted{Outcome: h.Outcome, CompletedAt: done}, Metadata: meta})
	case operations.OutcomeFailed:
		evs = append(evs, eventstore.NewEvent{Data: operations.RunFailed{ReasonCode: h.ReasonCode, Message: failure.Sanitize(h.Message), CompletedAt: done}, Metadata: meta})
	case operations.OutcomeBlocked:
		_, next := failure.Info(h.ReasonCode)
		evs = append(evs, eventstore.NewEvent{Data: operations.RunBlocked{ReasonCode: h.ReasonCode, Message: failure.Sanitize(h.Message),
			NextSteps: []operations.NextStep{{Label: next}}, CompletedAt: done}, Metadata: meta})
	case operations.OutcomeCancelled:
		evs = append(evs, eventstore.NewEvent{Data: operations.RunCancelled{Reason: failure.Sanitize(h.Message), CompletedAt: done}, Metadata: meta})
	default:
		return nil, fmt.Errorf("historygen: run %s: outcome %q is not terminal", h.ID, h.Outcome)
	}
	return evs, nil
}

// Append writes finished runs to the log in one transaction over pool, one stream each.
// A run whose stream exists already fails the whole call (eventstore.ErrConcurrency).
func Append(ctx context.Context, pool *pgxpool.Pool, store *eventstore.Store, runs []Run) error {
	b := store.NewBatch()
	for _, h := range runs {
		evs, err := events(h)
		if err != nil {
			return err
		}
		if _, err := b.Append(ctx, operations.RunStream(h.ID), eventstore.NoStream, evs...); err != nil {
			return err
		}
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return b.Send(ctx, tx) })
}
