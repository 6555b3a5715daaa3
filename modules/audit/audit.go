// Package audit records security-relevant actions as AuditRecorded events: start
// attempts and their outcome, denied access, blocked writes, logins, runbook steps,
// legacy imports. Replay, verification and export build on the event log.
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
	store *eventstore.Store
}

// NewRecorder returns a Recorder writing to store.
func NewRecorder(store *eventstore.Store) *Recorder { return &Recorder{store: store} }

// RecordTx appends e inside tx, each entry in a stream of its own ("audit-<entry id>"),
// so concurrent entries never contend on one stream row.
func (r *Recorder) RecordTx(ctx context.Context, tx pgx.Tx, e AuditRecorded) error {
	if e.EntryID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("audit: new id: %w", err)
		}
		e.EntryID = id
	}
	meta := eventstore.Metadata{Actor: e.Actor, WorkspaceID: e.WorkspaceID, TenantID: e.TenantID}
	if _, err := r.store.AppendTx(ctx, tx, eventstore.NewStreamID("audit", e.EntryID), eventstore.NoStream,
		eventstore.NewEvent{Data: e, Metadata: meta}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Record appends e in a transaction of its own.
func (r *Recorder) Record(ctx context.Context, e AuditRecorded) error {
	return pgx.BeginFunc(ctx, r.store.Pool(), func(tx pgx.Tx) error { return r.RecordTx(ctx, tx, e) })
}
