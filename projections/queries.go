package projections

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/sqlfile"
)

// sqlFiles are the package's static statements: runner.sql (checkpoints, leader lock,
// rebuilds, versions), apply.sql (each projection's Apply, on a table chosen per batch)
// and readers.sql (RunReader); the migrations are apart, in migrations/.
//
//go:embed *.sql
var sqlFiles embed.FS

// sqlQueries holds the statements of sqlFiles by name. Every Go file takes the ones it
// runs into package-level variables with sqlQueries.Get (or sqlQueries.Table for those on
// a live or shadow table), so a missing name panics when the package loads;
// TestSQLFilesUsed checks that no statement is left unused.
var sqlQueries = sqlfile.MustParse("projections", sqlFiles, "*.sql")
