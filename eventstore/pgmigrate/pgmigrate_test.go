package pgmigrate_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/eventstore/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestApplyIsIdempotentAndVersioned(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	ctx := t.Context()
	set := pgmigrate.Set{Name: "widgets", FS: fstest.MapFS{
		"001_create.sql": {Data: []byte(`CREATE TABLE widgets (id int PRIMARY KEY);`)},
		"002_column.sql": {Data: []byte(`ALTER TABLE widgets ADD COLUMN name text;`)},
	}}
	v, err := pgmigrate.Version(ctx, pool, set)
	require.NoError(t, err)
	require.Zero(t, v)
	for range 3 {
		require.NoError(t, pgmigrate.Apply(ctx, pool, set))
	}
	v, err = pgmigrate.Version(ctx, pool, set)
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
	_, err = pool.Exec(ctx, `INSERT INTO widgets (id, name) VALUES (1, 'a')`)
	require.NoError(t, err)

	// A second owner keeps its own version table.
	other := pgmigrate.Set{Name: "gadgets", FS: fstest.MapFS{"001_create.sql": {Data: []byte(`CREATE TABLE gadgets (id int);`)}}}
	require.NoError(t, pgmigrate.Apply(ctx, pool, set, other))
	v, err = pgmigrate.Version(ctx, pool, other)
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
}

func TestApplyRejectsBadInput(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	err := pgmigrate.Apply(t.Context(), pool, pgmigrate.Set{Name: "Bad Name; DROP", FS: fstest.MapFS{}})
	require.ErrorContains(t, err, "invalid set name")

	broken := pgmigrate.Set{Name: "broken", FS: fstest.MapFS{
		"001_ok.sql":     {Data: []byte(`CREATE TABLE ok (id int);`)},
		"002_broken.sql": {Data: []byte(`CREATE TABLE ok (id int);`)},
	}}
	require.Error(t, pgmigrate.Apply(t.Context(), pool, broken))
	v, err := pgmigrate.Version(t.Context(), pool, broken)
	require.NoError(t, err)
	require.EqualValues(t, 1, v, "a failed migration leaves the set at the last good version")
}
