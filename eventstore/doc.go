// Package eventstore is the append-only event log of TenantAtlas Ops in PostgreSQL.
//
// It owns the log's tables and their migrations (Migrations): appends with an expected
// version per stream (Append, AppendTx, and Batch for one round trip), reading a stream
// (ReadStream) and the whole log in global order (ReadAll, which never skips an event
// that commits late), the sealer that gives committed events their global positions and
// hash chain (Seal, RunSealer) and Verify that walks the chain, the event type Registry
// with its upcasters, and the hand-off of every append to watermill through the outbox
// in the same transaction (OutboxTopic).
//
// It knows nothing of what the events mean. Layering (README.md, "Architecture: layers
// and imports"): floor 0; it imports only its own subpackages (pgmigrate) and never
// modules/..., projections/, web/ or cmd/ — tests included; architecture_test.go checks
// this.
package eventstore
