package eventstore

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the event store's migration set: the log, the streams and the seal
// head (the per-append outbox topic atlas_events is gone since migration 004).
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("eventstore", migrationFiles)
}
