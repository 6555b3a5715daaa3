package eventstore

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the event store's migration set: the log, the streams, the seal head
// and the watermill outbox tables.
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("eventstore", migrationFiles)
}
