package monotest

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TokenPrefix starts every token the simulator issues ("sim." + base64url of a JSON
// object).
const TokenPrefix = "sim.eyJ"

// Occurrences counts the rows of every table of the database (the event store, the
// read models, every module's tables) and the log lines holding needle.
func (e *Env) Occurrences(t testing.TB, needle string) (rows, logLines int) {
	t.Helper()
	require.NotEmpty(t, needle)
	q, err := e.Pool.Query(e.Ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(q, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, tables)
	for _, tbl := range tables {
		var hits int
		require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT count(*) FROM `+tbl+` t WHERE strpos(t::text, $1) > 0`, needle).Scan(&hits))
		rows += hits
	}
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		if strings.Contains(line, needle) {
			logLines++
		}
	}
	return rows, logLines
}

// RequireNoLeak fails the test when any of needles appears in a table row or a log line.
func (e *Env) RequireNoLeak(t testing.TB, needles ...string) {
	t.Helper()
	for _, n := range needles {
		rows, lines := e.Occurrences(t, n)
		require.Zero(t, rows, "%q found in %d table row(s)", n, rows)
		require.Zero(t, lines, "%q found in %d log line(s)", n, lines)
	}
}
