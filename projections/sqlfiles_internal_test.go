package projections

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/sqlfile"
)

// TestSQLFilesUsed checks that every statement of the .sql files is taken by the Go
// code and every name the code takes exists (a missing one also panics at load).
func TestSQLFilesUsed(t *testing.T) {
	t.Parallel()
	require.NoError(t, sqlfile.CheckUsage(sqlQueries, os.DirFS("."), "sqlQueries"))
}

// TestSQLOnShadowTable checks that a statement on a chosen table quotes it, for the
// live and the shadow name alike.
func TestSQLOnShadowTable(t *testing.T) {
	t.Parallel()
	for _, target := range []Target{Live, shadow} {
		name := target.Table("rm_scope_counts_v2")
		require.Equal(t, `DELETE FROM "`+name+`" WHERE runs = 0`, sqlScopeCountsDeleteEmpty.For(name))
	}
}
