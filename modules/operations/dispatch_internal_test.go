package operations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
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

// TestDispatchLogQuietOnShutdown: the dispatch subscriber's logger writes an error that
// is its context's cancellation (a commit cut off by the workers stopping, as pgx reports
// it) at debug, and any other error as an error, through With as well.
func TestDispatchLogQuietOnShutdown(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := shutdownQuiet{watermill.NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))}

	pool := pgtest.DB(t)
	ctx, cancel := context.WithCancel(t.Context())
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	cancel()
	cut := tx.Commit(ctx) // what watermill-sql met: "timeout: context already done: context canceled"
	require.Error(t, cut)
	levels := func() []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec struct{ Level, Msg string }
			require.NoError(t, json.Unmarshal([]byte(line), &rec))
			out = append(out, rec.Level+" "+rec.Msg)
		}
		buf.Reset()
		return out
	}
	log.Error("could not commit tx for querying message", fmt.Errorf("wrapped: %w", cut), nil)
	log.With(watermill.LogFields{"topic": "ops_dispatch"}).Error("poll cut", context.Canceled, nil)
	require.Equal(t, []string{"DEBUG could not commit tx for querying message", "DEBUG poll cut"}, levels())
	log.Error("could not commit tx for querying message", errors.New("connection reset by peer"), nil)
	log.With(watermill.LogFields{"topic": "ops_dispatch"}).Error("poll failed", context.DeadlineExceeded, nil)
	require.Equal(t, []string{"ERROR could not commit tx for querying message", "ERROR poll failed"}, levels())
}
