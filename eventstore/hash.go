package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// contentHash is SHA-256 over every stored column of an event except the ordering ones
// (seq, transaction_id, global_position, chain_hash), each length-prefixed so that no
// two different events encode to the same bytes.
func contentHash(buf []byte, e *Envelope) ([]byte, []byte) {
	buf = buf[:0]
	buf = append(buf, e.EventID[:]...)
	buf = appendString(buf, string(e.StreamID))
	buf = appendString(buf, e.StreamType)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.StreamVersion))
	buf = appendString(buf, e.Type)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.SchemaVersion))
	buf = appendString(buf, string(e.RawData))
	buf = appendString(buf, e.Metadata.Actor)
	buf = appendUUID(buf, e.Metadata.WorkspaceID)
	buf = appendUUID(buf, e.Metadata.TenantID)
	buf = appendUUID(buf, e.Metadata.CorrelationID)
	buf = appendUUID(buf, e.Metadata.CausationID)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.RecordedAt.UnixMicro()))
	sum := sha256.Sum256(buf)
	return sum[:], buf
}

// chainHash links an event's content hash to its global position and predecessor:
// SHA-256(previous chain hash ‖ position ‖ content hash).
func chainHash(prev []byte, position int64, content []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], uint64(position))
	h.Write(p[:])
	h.Write(content)
	return h.Sum(nil)
}

func appendString(buf []byte, s string) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

func appendUUID(buf []byte, id uuid.UUID) []byte {
	return append(buf, id[:]...)
}

// recordTime truncates to what PostgreSQL's timestamptz keeps, so the hash computed at
// append equals the one recomputed from the stored row.
func recordTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
