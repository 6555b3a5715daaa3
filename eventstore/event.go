package eventstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is a past-tense fact with a stable type name, e.g. "RunQueued".
type Event interface {
	// EventType names the event in the log; it never changes once written.
	EventType() string
}

// StreamID names one stream, "<type>-<id>", e.g. "run-0190f5c2-...".
type StreamID string

// NewStreamID returns the stream id of the aggregate of the given type and id.
func NewStreamID(streamType string, id uuid.UUID) StreamID {
	return StreamID(streamType + "-" + id.String())
}

// Type returns the stream type: the part of the id before the first '-'.
func (s StreamID) Type() string {
	if i := strings.IndexByte(string(s), '-'); i > 0 {
		return string(s)[:i]
	}
	return string(s)
}

// Metadata travels with every event: who did it, where, and why.
type Metadata struct {
	// Actor is "user:<id>", "platform:<id>" or "system:<component>".
	Actor string `json:"actor"`
	// WorkspaceID is the workspace the event belongs to, if any.
	WorkspaceID uuid.UUID `json:"workspaceId,omitzero"`
	// TenantID is the managed tenant the event belongs to, if any.
	TenantID uuid.UUID `json:"tenantId,omitzero"`
	// CorrelationID groups everything caused by one request or job.
	CorrelationID uuid.UUID `json:"correlationId,omitzero"`
	// CausationID is the event or command that caused this event.
	CausationID uuid.UUID `json:"causationId,omitzero"`
}

// NewEvent is an event to append together with its metadata. The store gives it its
// id (a UUIDv7).
type NewEvent struct {
	// Data is the event payload; its type must be registered.
	Data Event
	// Metadata is recorded beside the payload.
	Metadata Metadata
}

// Envelope is one recorded event as read back from the store.
type Envelope struct {
	// EventID is the event's unique id (UUIDv7).
	EventID uuid.UUID `json:"eventId"`
	// StreamID is the stream the event belongs to.
	StreamID StreamID `json:"streamId"`
	// StreamType is the type part of StreamID.
	StreamType string `json:"streamType"`
	// StreamVersion is the event's 1-based version within its stream.
	StreamVersion int64 `json:"streamVersion"`
	// Position is the global position; 0 while the event is not sealed yet.
	Position int64 `json:"position"`
	// Type is the event type name.
	Type string `json:"type"`
	// SchemaVersion is the payload version the event was written with.
	SchemaVersion int `json:"schemaVersion"`
	// Data is the payload decoded (and upcast) into its registered Go type.
	Data Event `json:"-"`
	// RawData is the payload exactly as stored.
	RawData json.RawMessage `json:"data"`
	// Metadata is who, where and why.
	Metadata Metadata `json:"metadata"`
	// RecordedAt is when the event was appended (microsecond precision, UTC).
	RecordedAt time.Time `json:"recordedAt"`
	// Hash is the event's content hash.
	Hash []byte `json:"hash"`
	// ChainHash links the event to its global predecessor; nil until sealed.
	ChainHash []byte `json:"chainHash,omitempty"`
}

// Version constants for Append's expectedVersion.
const (
	// AnyVersion appends whatever the stream's current version is.
	AnyVersion int64 = -1
	// NoStream requires that the stream does not exist yet.
	NoStream int64 = 0
)

// ConcurrencyError reports that a stream was not at the expected version.
type ConcurrencyError struct {
	// Stream is the stream appended to.
	Stream StreamID
	// Expected is the version the caller expected.
	Expected int64
	// Actual is the stream's version when the append was attempted.
	Actual int64
}

func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("eventstore: stream %s is at version %d, expected %d", e.Stream, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrConcurrency) true for a *ConcurrencyError.
func (e *ConcurrencyError) Is(target error) bool { return target == ErrConcurrency }

// StreamIDUUID returns the id part of a "<type>-<uuid>" stream id (uuid.Nil otherwise).
func (e Envelope) StreamIDUUID() uuid.UUID {
	s := string(e.StreamID)
	if i := strings.IndexByte(s, '-'); i > 0 {
		if id, err := uuid.Parse(s[i+1:]); err == nil {
			return id
		}
	}
	return uuid.Nil
}
