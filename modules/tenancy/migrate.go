package tenancy

import (
	"embed"
	"io/fs"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the tenancy module's migration set (the tn_ tables).
func Migrations() pgmigrate.Set {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded folder always exists
	}
	return pgmigrate.Set{Name: "tenancy", FS: sub}
}
