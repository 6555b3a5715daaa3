package onboarding

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the onboarding module's migration set.
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("onboarding", migrationFiles)
}
