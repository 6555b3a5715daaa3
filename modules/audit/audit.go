// Package audit records security-relevant actions as AuditRecorded events: start
// attempts and their outcome, denied access, blocked writes, logins, token and user
// administration, runbook steps, legacy imports. Replay, verification and export build
// on the event log.
//
// Layering (README.md, "Architecture: layers and imports"): floor 1: it imports only the
// event store and must not import operations or any module above it (operations imports
// audit to record start attempts), projections, web or cmd/.
package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// AuditRecorded is one audit entry.
type AuditRecorded struct {
	EntryID     uuid.UUID       `json:"entryId"`
	Action      string          `json:"action"`
	Outcome     string          `json:"outcome"`
	Actor       string          `json:"actor"`
	WorkspaceID uuid.UUID       `json:"workspaceId,omitzero"`
	TenantID    uuid.UUID       `json:"tenantId,omitzero"`
	Target      string          `json:"target,omitempty"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	IP          string          `json:"ip,omitempty"`
	UserAgent   string          `json:"userAgent,omitempty"`
	Reason      string          `json:"reason,omitempty"`
}

// EventType implements eventstore.Event.
func (AuditRecorded) EventType() string { return "AuditRecorded" }

// RegisterEvents registers the module's events.
func RegisterEvents(r *eventstore.Registry) { r.Register(AuditRecorded{}, 1) }

// Recorder appends audit entries.
type Recorder struct {
	store   *eventstore.Store
	limiter *Limiter
}

// NewRecorder returns a Recorder writing to store, whose RecordLimited allows
// DeniedLimit entries per key and DeniedWindow.
func NewRecorder(store *eventstore.Store) *Recorder {
	return &Recorder{store: store, limiter: NewLimiter(DeniedLimit, DeniedWindow)}
}

// prepare gives e an entry id (when it has none) and returns its stream and event.
func prepare(e AuditRecorded) (eventstore.StreamID, eventstore.NewEvent, error) {
	if e.EntryID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return "", eventstore.NewEvent{}, fmt.Errorf("audit: new id: %w", err)
		}
		e.EntryID = id
	}
	meta := eventstore.Metadata{Actor: e.Actor, WorkspaceID: e.WorkspaceID, TenantID: e.TenantID}
	return eventstore.NewStreamID("audit", e.EntryID), eventstore.NewEvent{Data: e, Metadata: meta}, nil
}

// RecordTx appends e inside tx, each entry in a stream of its own ("audit-<entry id>"),
// so concurrent entries never contend on one stream row.
func (r *Recorder) RecordTx(ctx context.Context, tx pgx.Tx, e AuditRecorded) error {
	stream, ev, err := prepare(e)
	if err != nil {
		return err
	}
	if _, err := r.store.AppendTx(ctx, tx, stream, eventstore.NoStream, ev); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// QueueBatch queues e's append on b, so it commits (or rolls back) with the rest of the
// batch and costs no round trip of its own.
func (r *Recorder) QueueBatch(ctx context.Context, b *eventstore.Batch, e AuditRecorded) error {
	stream, ev, err := prepare(e)
	if err != nil {
		return err
	}
	if _, err := b.Append(ctx, stream, eventstore.NoStream, ev); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// NewStream returns e as the new stream it is appended as (an entry id given when it
// has none), for writers that append many streams in one statement
// (eventstore.Batch.AppendNew).
func NewStream(e AuditRecorded) (eventstore.NewStream, error) {
	stream, ev, err := prepare(e)
	if err != nil {
		return eventstore.NewStream{}, err
	}
	return eventstore.NewStream{Stream: stream, Events: []eventstore.NewEvent{ev}}, nil
}

// Record appends e in a transaction of its own, sent as one round trip.
func (r *Recorder) Record(ctx context.Context, e AuditRecorded) error {
	b := r.store.NewBatch()
	if err := r.QueueBatch(ctx, b, e); err != nil {
		return err
	}
	conn, err := r.store.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("audit: acquire connection: %w", err)
	}
	defer conn.Release()
	if err := b.Commit(ctx, conn.Conn()); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// RecordLimited records e unless key (who and what kind of entry: say the actor, the
// action and the target's kind) already had DeniedLimit entries in the current window;
// an entry held back is counted in atlas_audit_suppressed_total{action} and recorded
// false. It is for entries a hostile client can cause at will (denied views and starts),
// so a flood of refusals cannot become a flood of events.
func (r *Recorder) RecordLimited(ctx context.Context, key string, e AuditRecorded) (recorded bool, err error) {
	if !r.limiter.Allow(key) {
		suppressed.WithLabelValues(e.Action).Inc()
		return false, nil
	}
	if err := r.Record(ctx, e); err != nil {
		return false, err
	}
	return true, nil
}
