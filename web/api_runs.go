package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// runDetail is the RunDetail of CONTRACT.md.
type runDetail struct {
	ID          uuid.UUID             `json:"id"`
	Type        string                `json:"type"`
	TypeLabel   string                `json:"typeLabel"`
	WorkspaceID uuid.UUID             `json:"workspaceId"`
	TenantID    *uuid.UUID            `json:"tenantId"`
	Status      operations.Status     `json:"status"`
	Outcome     operations.Outcome    `json:"outcome"`
	Bucket      operations.Bucket     `json:"bucket"`
	Counts      operations.Counts     `json:"counts"`
	Failures    []failure.Entry       `json:"failures"`
	Omitted     int64                 `json:"failuresOmitted"` // failures past the first 100, only counted
	ReasonCode  failure.Code          `json:"reasonCode,omitempty"`
	Message     string                `json:"message,omitempty"`
	Initiator   initiatorView         `json:"initiator"`
	QueuedAt    *time.Time            `json:"queuedAt"`
	StartedAt   *time.Time            `json:"startedAt"`
	CompletedAt *time.Time            `json:"completedAt"`
	Context     json.RawMessage       `json:"context"`
	Source      string                `json:"sourceSurface"`
	Related     []operations.NextStep `json:"related"`
	NextSteps   []operations.NextStep `json:"nextSteps"`
	// ProviderConnection is the connection a provider-backed run was started on (id
	// and display name; null for other runs).
	ProviderConnection *operations.ConnectionRef `json:"providerConnection"`
	// ProtectedScope is the scope a provider-backed run holds while active: its tenant
	// and connection (spec 216; null for other runs).
	ProtectedScope *protectedScope `json:"protectedScope"`
	// ShortReason is the reason code's label ("Consent missing"); null without one.
	ShortReason *string `json:"shortReason"`
}

// protectedScope is a provider-backed run's protected scope: tenant + connection.
type protectedScope struct {
	TenantID             uuid.UUID `json:"tenantId"`
	ProviderConnectionID uuid.UUID `json:"providerConnectionId"`
}

// initiatorView is what the API shows of an initiator (no IP, no user agent).
type initiatorView struct {
	Kind   string     `json:"kind"`
	UserID *uuid.UUID `json:"userId"`
	Name   string     `json:"name"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func uuidPtr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func detailOf(r *operations.Run) runDetail {
	d := runDetail{ID: r.ID, Type: r.Type, TypeLabel: r.Type, WorkspaceID: r.WorkspaceID, TenantID: uuidPtr(r.TenantID),
		Status: r.Status, Outcome: r.Outcome, Bucket: r.Bucket(), Counts: r.Counts, Failures: r.Failures, Omitted: r.FailuresOmitted,
		ReasonCode: r.ReasonCode, Message: r.Message,
		Initiator: initiatorView{Kind: r.Initiator.Kind, UserID: uuidPtr(r.Initiator.UserID), Name: r.Initiator.Name},
		QueuedAt:  timePtr(r.QueuedAt), StartedAt: timePtr(r.StartedAt), CompletedAt: timePtr(r.CompletedAt),
		Context: r.Context, Source: r.SourceSurface, Related: operations.RelatedLinks(r), NextSteps: operations.RunNextSteps(r)}
	if info, ok := operations.LookupType(r.Type); ok {
		d.TypeLabel = info.Label
	}
	if d.Counts == nil {
		d.Counts = operations.Counts{}
	}
	if d.Failures == nil {
		d.Failures = []failure.Entry{}
	}
	if len(d.Context) == 0 {
		d.Context = json.RawMessage("{}")
	}
	if r.ReasonCode != "" {
		label, _ := operations.ReasonInfo(r.ReasonCode)
		d.ShortReason = &label
	}
	if r.ProviderConnectionID != uuid.Nil && r.TenantID != uuid.Nil {
		d.ProtectedScope = &protectedScope{TenantID: r.TenantID, ProviderConnectionID: r.ProviderConnectionID}
		d.ProviderConnection = &operations.ConnectionRef{ID: r.ProviderConnectionID}
	}
	return d
}

// runDetailOf is detailOf with the provider connection's provider and display name
// (a connection gone since keeps its id only).
func (s *Server) runDetailOf(ctx context.Context, r *operations.Run) (runDetail, error) {
	d := detailOf(r)
	if d.ProviderConnection == nil {
		return d, nil
	}
	pc, err := s.deps.Tenancy.Connection(ctx, d.ProviderConnection.ID)
	switch {
	case err == nil:
		d.ProviderConnection.Provider, d.ProviderConnection.Label = pc.Provider, pc.DisplayName
	case !errors.Is(err, tenancy.ErrNotFound):
		return runDetail{}, err
	}
	return d, nil
}

// handleAPIRun answers the RunDetail of a run the caller may view.
func (s *Server) handleAPIRun(c *fiber.Ctx) error {
	run, err := s.viewableRun(c)
	if err != nil {
		return err
	}
	d, err := s.runDetailOf(c.UserContext(), run)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// eventView is one event of GET /api/v1/operations/{run}/events.
type eventView struct {
	EventID       uuid.UUID       `json:"eventId"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	StreamVersion int64           `json:"streamVersion"`
	Position      *int64          `json:"position"`
	RecordedAt    time.Time       `json:"recordedAt"`
	Data          json.RawMessage `json:"data"`
	Metadata      any             `json:"metadata"`
	Hash          string          `json:"hash"`
	ChainHash     *string         `json:"chainHash"`
}

// handleAPIRunEvents answers the run's events in order, with metadata and hashes.
func (s *Server) handleAPIRunEvents(c *fiber.Ctx) error {
	run, err := s.viewableRun(c)
	if err != nil {
		return err
	}
	id := run.ID
	envs, err := s.deps.Operations.Events(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := make([]eventView, len(envs))
	for i, e := range envs {
		v := eventView{EventID: e.EventID, Type: e.Type, SchemaVersion: e.SchemaVersion, StreamVersion: e.StreamVersion,
			RecordedAt: e.RecordedAt, Data: redactedData(e.RawData), Metadata: e.Metadata, Hash: hex.EncodeToString(e.Hash)}
		if e.Position > 0 {
			p := e.Position
			v.Position = &p
		}
		if len(e.ChainHash) > 0 {
			ch := hex.EncodeToString(e.ChainHash)
			v.ChainHash = &ch
		}
		out[i] = v
	}
	return c.JSON(fiber.Map{"runId": id, "events": out})
}

// redactedData is an event's payload as the API shows it: an "initiator" object (the
// RunQueued of a web or API start) loses its ip and userAgent, so the events answer
// shows the initiator as the RunDetail does. The hash stays the stored event's.
func redactedData(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte(`"initiator"`)) {
		return raw
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return json.RawMessage(`{}`)
	}
	ini, ok := obj["initiator"]
	if !ok {
		return raw
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(ini, &fields); err != nil || fields == nil {
		delete(obj, "initiator")
	} else {
		delete(fields, "ip")
		delete(fields, "userAgent")
		obj["initiator"], _ = json.Marshal(fields)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return out
}

// handleAPINotifications answers the caller's notifications, newest first.
func (s *Server) handleAPINotifications(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	list, err := s.deps.Runs.Notifications(c.UserContext(), currentUser(c).ID, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"notifications": list})
}
