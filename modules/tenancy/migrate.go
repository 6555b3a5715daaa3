package tenancy

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the tenancy module's migration set (the tn_ tables).
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("tenancy", migrationFiles)
}
