package operations

import (
	"time"

	"github.com/google/uuid"
	"github.com/tenantatlas/ops/eventstore"
)

// LegacyStreamType is the stream type of legacy rows kept as history only: stream
// "legacy-<id>", the id modules/legacy derives from the row (legacy.RunID).
const LegacyStreamType = "legacy"

// LegacyStream is the stream of a legacy row kept as history only, by its derived id.
func LegacyStream(id uuid.UUID) eventstore.StreamID {
	return eventstore.NewStreamID(LegacyStreamType, id)
}

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
