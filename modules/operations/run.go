package operations

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/tenantatlas/ops/eventstore"
)

// Run is the run aggregate, rebuilt from its stream by Apply.
type Run struct {
	ID                   uuid.UUID
	Type                 string
	WorkspaceID          uuid.UUID
	TenantID             uuid.UUID
	Status               Status
	Outcome              Outcome
	Counts               Counts
	Failures             []Failure
	FailuresOmitted      int64 // failures past the first MaxRunFailures, only counted
	ReasonCode           ReasonCode
	Message              string
	NextSteps            []NextStep
	Initiator            Initiator
	IdentityHash         string
	Context              json.RawMessage
	SourceSurface        string
	ProviderConnectionID uuid.UUID
	QueuedAt             time.Time
	StartedAt            time.Time
	CompletedAt          time.Time
	Legacy               []LegacyRunLinked
	Links                []RunLinked
	Version              int64
}

// MaxRunFailures is how many failure entries a run keeps; the rest are only counted
// (Run.FailuresOmitted).
const MaxRunFailures = 100

// Bucket is the run's status bucket.
func (r *Run) Bucket() Bucket { return StatusBucket(r.Status, r.Outcome, r.Counts) }

// Terminal reports whether the run has ended.
func (r *Run) Terminal() bool { return r.Status == StatusCompleted }

// Apply folds one event into the run.
func (r *Run) Apply(env eventstore.Envelope) {
	r.Version = env.StreamVersion
	switch e := env.Data.(type) {
	case RunQueued:
		r.ID, r.Type, r.WorkspaceID, r.TenantID = e.RunID, e.Type, e.WorkspaceID, e.TenantID
		r.Initiator, r.IdentityHash, r.Context, r.SourceSurface = e.Initiator, e.IdentityHash, e.Context, e.SourceSurface
		r.ProviderConnectionID, r.QueuedAt = e.ProviderConnectionID, e.QueuedAt
		r.Status, r.Outcome, r.Counts = StatusQueued, OutcomePending, Counts{}
	case RunDispatchFailed:
		r.ReasonCode, r.Message = e.ReasonCode, e.Message
	case RunStarted:
		r.Status, r.StartedAt = StatusRunning, e.StartedAt
	case RunProgressed:
		r.Counts = r.Counts.Add(e.Delta)
	case RunFailuresAppended:
		r.addFailures(e.Failures, e.Omitted)
	case RunCompleted:
		r.Status, r.Outcome, r.CompletedAt = StatusCompleted, e.Outcome, e.CompletedAt
	case RunFailed:
		r.Status, r.Outcome, r.CompletedAt = StatusCompleted, OutcomeFailed, e.CompletedAt
		r.ReasonCode, r.Message = e.ReasonCode, e.Message
	case RunBlocked:
		r.Status, r.Outcome, r.CompletedAt = StatusCompleted, OutcomeBlocked, e.CompletedAt
		r.ReasonCode, r.Message, r.NextSteps = e.ReasonCode, e.Message, e.NextSteps
	case RunCancelled:
		r.Status, r.Outcome, r.CompletedAt = StatusCompleted, OutcomeCancelled, e.CompletedAt
		r.ReasonCode, r.Message = ReasonCancelled, e.Reason
	case RunStaleTimedOut:
		r.Status, r.Outcome, r.CompletedAt = StatusCompleted, OutcomeFailed, e.CompletedAt
		r.ReasonCode, r.Message = e.ReasonCode, e.Message
	case LegacyRunImported:
		r.ID, r.Type, r.WorkspaceID, r.TenantID = env.StreamIDUUID(), e.Type, e.WorkspaceID, e.TenantID
		r.Status, r.Outcome, r.Counts = e.Status, e.Outcome, e.Counts
		r.Failures, r.FailuresOmitted = nil, 0
		r.addFailures(e.Failures, 0)
		r.StartedAt, r.CompletedAt, r.QueuedAt, r.Context = e.StartedAt, e.FinishedAt, e.StartedAt, e.Context
		r.Initiator = Initiator{Kind: "system", Name: "legacy import"}
		r.SourceSurface = "legacy." + e.Table
		r.Legacy = append(r.Legacy, LegacyRunLinked{Table: e.Table, LegacyID: e.LegacyID})
	case LegacyRunLinked:
		r.Legacy = append(r.Legacy, e)
	case RunLinked:
		r.Links = append(r.Links, e)
	}
}

// addFailures keeps failures up to MaxRunFailures and counts the rest, with omitted
// more that were never recorded one by one.
func (r *Run) addFailures(fs []Failure, omitted int64) {
	keep := min(max(MaxRunFailures-len(r.Failures), 0), len(fs))
	r.Failures = append(r.Failures, fs[:keep]...)
	r.FailuresOmitted = addSaturating(r.FailuresOmitted, addSaturating(int64(len(fs)-keep), max(omitted, 0)))
}

// clone returns a copy of r that Apply can change without touching r: the slices Apply
// appends to are clipped, so an append copies them; Counts.Add returns a new map.
func (r *Run) clone() *Run {
	c := *r
	c.Failures, c.Legacy, c.Links = slices.Clip(r.Failures), slices.Clip(r.Legacy), slices.Clip(r.Links)
	return &c
}

// RunFromEvents folds a whole stream into a run.
func RunFromEvents(envs []eventstore.Envelope) *Run {
	r := &Run{}
	for _, e := range envs {
		r.Apply(e)
	}
	return r
}
