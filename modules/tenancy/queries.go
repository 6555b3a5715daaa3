package tenancy

import (
	"embed"

	"github.com/tenantatlas/ops/eventstore/sqlfile"
)

// sqlFiles are the module's static statements, by area (authorize.sql, connections.sql,
// login.sql, memberships.sql, platform.sql, tokens.sql, users.sql, workspaces.sql); the migrations
// are apart, in migrations/.
//
//go:embed *.sql
var sqlFiles embed.FS

// sqlQueries holds the statements of sqlFiles by name. Every Go file takes the ones it
// runs into package-level variables with sqlQueries.Get, so a missing name panics when
// the package loads; TestSQLFilesUsed checks that no statement is left unused.
var sqlQueries = sqlfile.MustParse("tenancy", sqlFiles, "*.sql")
