package operations

import (
	"testing"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// TestSubscriberCommitsAsynchronously: the dispatch subscriber's transactions (begun
// by asyncCommits) run with synchronous_commit off, and only they: the setting is
// LOCAL, so the pooled connection is back to the server's default afterwards.
func TestSubscriberCommitsAsynchronously(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := pgtest.DB(t).Config().Copy()
	cfg.MaxConns = 1 // the transaction's connection is the one looked at afterwards
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	var before string
	require.NoError(t, pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&before))
	require.NotEqual(t, "off", before)

	tx, err := asyncCommits{wsql.BeginnerFromPgx(pool)}.BeginTx(ctx, nil)
	require.NoError(t, err)
	rows, err := tx.QueryContext(ctx, `SHOW synchronous_commit`)
	require.NoError(t, err)
	var in string
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&in))
	require.NoError(t, rows.Close())
	require.NoError(t, tx.Commit())
	require.Equal(t, "off", in)

	var after string
	require.NoError(t, pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&after))
	require.Equal(t, before, after)
}
