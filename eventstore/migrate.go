package eventstore

import (
	"embed"
	"io/fs"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the event store's migration set: the log, the streams, the seal head
// and the watermill outbox tables.
func Migrations() pgmigrate.Set {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded folder always exists
	}
	return pgmigrate.Set{Name: "eventstore", FS: sub}
}
