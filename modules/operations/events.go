package operations

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/tenantatlas/ops/eventstore"
)

// StreamType is the stream type of runs: stream "run-<id>".
const StreamType = "run"

// RunStream returns the stream of run id.
func RunStream(id uuid.UUID) eventstore.StreamID { return eventstore.NewStreamID(StreamType, id) }

// Initiator is who started a run.
type Initiator struct {
	// Kind is "user", "platform" or "system".
	Kind string `json:"kind"`
	// UserID is the starting user (users and platform users).
	UserID uuid.UUID `json:"userId,omitzero"`
	// Name is a display name (user email, or the system component).
	Name string `json:"name"`
	// IP is the client address of a web or API start.
	IP string `json:"ip,omitempty"`
	// UserAgent is the client of a web or API start.
	UserAgent string `json:"userAgent,omitempty"`
	// BreakGlass marks a platform initiator flagged break-glass (the gate sets it from
	// the stored platform user, never from the caller).
	BreakGlass bool `json:"breakGlass,omitempty"`
}

// NextStep is an operator hint attached to a start outcome or a failed run.
type NextStep struct {
	// Label is what to do.
	Label string `json:"label"`
	// Href is where to do it, if anywhere.
	Href string `json:"href,omitempty"`
}

// RunQueued records that the start gate accepted (or blocked) a run.
type RunQueued struct {
	RunID                uuid.UUID       `json:"runId"`
	Type                 string          `json:"type"`
	WorkspaceID          uuid.UUID       `json:"workspaceId"`
	TenantID             uuid.UUID       `json:"tenantId,omitzero"`
	Initiator            Initiator       `json:"initiator"`
	IdentityHash         string          `json:"identityHash"`
	Context              json.RawMessage `json:"context"`
	SourceSurface        string          `json:"sourceSurface"`
	ProviderConnectionID uuid.UUID       `json:"providerConnectionId,omitzero"`
	QueuedAt             time.Time       `json:"queuedAt"`
}

// RunDispatchFailed records that the run's job could not be enqueued.
type RunDispatchFailed struct {
	ReasonCode ReasonCode `json:"reasonCode"`
	Message    string     `json:"message"`
}

// RunStarted records that a worker picked the run up.
type RunStarted struct {
	WorkerID  string    `json:"workerId"`
	StartedAt time.Time `json:"startedAt"`
}

// RunProgressed adds count deltas to the run's summary counts.
type RunProgressed struct {
	Delta Counts `json:"delta"`
}

// RunFailuresAppended adds sanitized per-item failures. A run records at most
// MaxRunFailures entries; Omitted counts the failures past them, reported as a number
// only.
type RunFailuresAppended struct {
	Failures []Failure `json:"failures"`
	Omitted  int64     `json:"omitted,omitempty"`
}

// RunCompleted records that the work ended with an outcome (succeeded or partially_succeeded).
type RunCompleted struct {
	Outcome     Outcome   `json:"outcome"`
	CompletedAt time.Time `json:"completedAt"`
}

// RunFailed records that the run ended failed, with a reason code.
type RunFailed struct {
	ReasonCode  ReasonCode `json:"reasonCode"`
	Message     string     `json:"message"`
	CompletedAt time.Time  `json:"completedAt"`
}

// RunBlocked records that a precondition failed at the start gate; nothing was dispatched.
type RunBlocked struct {
	ReasonCode  ReasonCode `json:"reasonCode"`
	Message     string     `json:"message"`
	NextSteps   []NextStep `json:"nextSteps"`
	CompletedAt time.Time  `json:"completedAt"`
}

// RunCancelled records that the run was cancelled.
type RunCancelled struct {
	Reason      string    `json:"reason"`
	CompletedAt time.Time `json:"completedAt"`
}

// RunStaleTimedOut records that the sweeper ended a run nobody picked up
// (stale_queued_timeout) or whose worker stopped heart-beating (worker_lost).
type RunStaleTimedOut struct {
	ReasonCode  ReasonCode `json:"reasonCode"`
	Message     string     `json:"message"`
	CompletedAt time.Time  `json:"completedAt"`
}

// LegacyRunImported records a legacy run row imported as a run of its own.
type LegacyRunImported struct {
	Table       string          `json:"table"`
	LegacyID    int64           `json:"legacyId"`
	Type        string          `json:"type"`
	WorkspaceID uuid.UUID       `json:"workspaceId"`
	TenantID    uuid.UUID       `json:"tenantId,omitzero"`
	Status      Status          `json:"status"`
	Outcome     Outcome         `json:"outcome"`
	Counts      Counts          `json:"counts"`
	Failures    []Failure       `json:"failures"`
	StartedAt   time.Time       `json:"startedAt,omitzero"`
	FinishedAt  time.Time       `json:"finishedAt,omitzero"`
	Context     json.RawMessage `json:"context,omitempty"`
}

// LegacyRunLinked records that a legacy run row maps to this run.
type LegacyRunLinked struct {
	Table    string `json:"table"`
	LegacyID int64  `json:"legacyId"`
}

// RunLinked records that the run produced (or acts on) an object another module keeps:
// an inventory snapshot, a backup set, drift findings, a provider connection. The run
// viewer lists it among the related links.
type RunLinked struct {
	// Kind is one of the LinkKind constants.
	Kind LinkKind `json:"kind"`
	// ID is the object's id.
	ID uuid.UUID `json:"id"`
}

// EventType implementations: the names are stable once written.
func (RunQueued) EventType() string           { return "RunQueued" }
func (RunDispatchFailed) EventType() string   { return "RunDispatchFailed" }
func (RunStarted) EventType() string          { return "RunStarted" }
func (RunProgressed) EventType() string       { return "RunProgressed" }
func (RunFailuresAppended) EventType() string { return "RunFailuresAppended" }
func (RunCompleted) EventType() string        { return "RunCompleted" }
func (RunFailed) EventType() string           { return "RunFailed" }
func (RunBlocked) EventType() string          { return "RunBlocked" }
func (RunCancelled) EventType() string        { return "RunCancelled" }
func (RunStaleTimedOut) EventType() string    { return "RunStaleTimedOut" }
func (LegacyRunImported) EventType() string   { return "LegacyRunImported" }
func (LegacyRunLinked) EventType() string     { return "LegacyRunLinked" }
func (RunLinked) EventType() string           { return "RunLinked" }

// RegisterEvents registers every run event at its current schema version.
func RegisterEvents(r *eventstore.Registry) {
	for _, e := range []eventstore.Event{RunQueued{}, RunDispatchFailed{}, RunStarted{}, RunProgressed{},
		RunFailuresAppended{}, RunCompleted{}, RunFailed{}, RunBlocked{}, RunCancelled{}, RunStaleTimedOut{},
		LegacyRunImported{}, LegacyRunLinked{}, RunLinked{}, LegacyRunRecorded{}} {
		r.Register(e, 1)
	}
}
