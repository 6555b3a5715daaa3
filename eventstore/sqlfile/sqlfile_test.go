package sqlfile_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/sqlfile"
)

func TestParse(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"a.sql": {Data: []byte("-- Users.\n\n-- name: UserByID\n-- The user with this id.\nSELECT id\n  FROM users -- inline stays\n  WHERE id = $1;\n\n-- name: Bump\nUPDATE t SET n = n + 1; UPDATE u SET n = 0;\n")},
		"b.sql": {Data: []byte("-- name: InsertRow\nINSERT INTO {{table}} (a) VALUES ($1)\n  ON CONFLICT DO UPDATE SET a = {{table}}.a\n")},
		"x.txt": {Data: []byte("not sql")},
	}
	s, err := sqlfile.Parse("test", fsys, "*.sql")
	require.NoError(t, err)
	require.Equal(t, []string{"Bump", "InsertRow", "UserByID"}, s.Names())
	require.Equal(t, "SELECT id\n  FROM users -- inline stays\n  WHERE id = $1", s.Get("UserByID"))
	require.Equal(t, "UPDATE t SET n = n + 1; UPDATE u SET n = 0", s.Get("Bump"))
	ins := s.Table("InsertRow")
	require.Equal(t, "INSERT INTO \"rm_x_next\" (a) VALUES ($1)\n  ON CONFLICT DO UPDATE SET a = \"rm_x_next\".a", ins.For("rm_x_next"))
	require.Equal(t, ins.For("rm_x_next"), ins.For("rm_x_next"))
	require.Contains(t, ins.For(`we"ird`), `"we""ird"`)

	require.PanicsWithValue(t, "sqlfile: test: no statement Nope in its .sql files", func() { s.Get("Nope") })
	require.Panics(t, func() { s.Get("InsertRow") })
	require.Panics(t, func() { s.Table("UserByID") })
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ files fstest.MapFS }{
		"SQL before the first":       {fstest.MapFS{"a.sql": {Data: []byte("SELECT 1\n-- name: A\nSELECT 2")}}},
		"is empty":                   {fstest.MapFS{"a.sql": {Data: []byte("-- name: A\n-- only a comment\n;\n-- name: B\nSELECT 1")}}},
		"already defined in a.sql:1": {fstest.MapFS{"a.sql": {Data: []byte("-- name: A\nSELECT 1")}, "b.sql": {Data: []byte("-- name: A\nSELECT 2")}}},
		"is not CamelCase":           {fstest.MapFS{"a.sql": {Data: []byte("-- name: user_by_id\nSELECT 1")}}},
		"no file matches":            {fstest.MapFS{"a.txt": {Data: []byte("-- name: A\nSELECT 1")}}},
	} {
		_, err := sqlfile.Parse("test", tc.files, "*.sql")
		require.ErrorContains(t, err, name)
		require.Panics(t, func() { sqlfile.MustParse("test", tc.files, "*.sql") }, name)
	}
}

func TestCheckUsage(t *testing.T) {
	t.Parallel()
	s := sqlfile.MustParse("test", fstest.MapFS{"q.sql": {Data: []byte("-- name: A\nSELECT 1\n-- name: B\nSELECT {{table}}\n-- name: C\nSELECT 3")}}, "*.sql")
	src := fstest.MapFS{
		"a.go":      {Data: []byte(`var a, b = sqlQueries.Get("A"), sqlQueries.Table("B"); var d = sqlQueries.Get("D"); var o = other.Get("C")`)},
		"a_test.go": {Data: []byte(`var c = sqlQueries.Get("C")`)},
	}
	err := sqlfile.CheckUsage(s, src, "sqlQueries")
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")[1:]
	require.Equal(t, []string{
		`a.go takes statement "D", which no .sql file defines`,
		"statement C is defined but never taken with sqlQueries.Get or sqlQueries.Table",
	}, lines)

	src["a.go"] = &fstest.MapFile{Data: []byte(`var a, b, c = sqlQueries.Get("A"), sqlQueries.Table("B"), sqlQueries.Get("C")`)}
	require.NoError(t, sqlfile.CheckUsage(s, src, "sqlQueries"))
}
