package backup

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the backup module's migration set.
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("backup", migrationFiles)
}
