package alerts

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/sqlfile"
)

// TestSQLFilesUsed checks that every statement of alerts.sql is taken by the Go code.
func TestSQLFilesUsed(t *testing.T) {
	t.Parallel()
	require.NoError(t, sqlfile.CheckUsage(sqlQueries, os.DirFS("."), "sqlQueries"))
}
