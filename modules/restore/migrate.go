package restore

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the restore module's migration set.
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("restore", migrationFiles)
}
