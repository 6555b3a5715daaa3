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
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
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

// TestDispatchSelectStartsAtTheOffset: the dispatch subscriber's select (dispatchSchema)
// answers what watermill's default select answers from every consumer-group offset (the
// start, inside a publishing transaction, between two, the end), and reaches the offset
// through the primary key's index instead of sorting what follows it.
func TestDispatchSelectStartsAtTheOffset(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.Fresh(t)
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(pool), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, nil)
	require.NoError(t, err)
	for range 3 { // three transactions of 40 messages
		msgs := make([]*message.Message, 40)
		for i := range msgs {
			msgs[i] = message.NewMessage(watermill.NewUUID(), []byte(`{}`))
		}
		require.NoError(t, pub.Publish(DispatchTopic, msgs...))
	}
	type pos struct {
		xid    string
		offset int64
	}
	var all []pos
	rows, err := pool.Query(ctx, `SELECT transaction_id::text, "offset" FROM watermill_ops_dispatch ORDER BY transaction_id, "offset"`)
	require.NoError(t, err)
	for rows.Next() {
		var p pos
		require.NoError(t, rows.Scan(&p.xid, &p.offset))
		all = append(all, p)
	}
	require.NoError(t, rows.Err())
	require.Len(t, all, 120)

	offsets := wsql.DefaultPostgreSQLOffsetsAdapter{}
	params := wsql.SelectQueryParams{Topic: DispatchTopic, ConsumerGroup: workerGroup, OffsetsAdapter: offsets}
	ours, err := dispatchSchema{wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: 5}}.SelectQuery(params)
	require.NoError(t, err)
	theirs, err := wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: 5}.SelectQuery(params)
	require.NoError(t, err)
	// Both selects only read messages below the seal horizon, which is server-wide: wait
	// for it to pass the messages, then compare the two in one snapshot (REPEATABLE
	// READ), so that a transaction of another test cannot move it between them.
	require.Eventually(t, func() bool {
		var past bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8`, all[119].xid).Scan(&past))
		return past
	}, 20*time.Second, 10*time.Millisecond, "the horizon never passed the messages")
	read := func(tx pgx.Tx, q wsql.Query) (got []int64) {
		t.Helper()
		rows, err := tx.Query(ctx, q.Query, q.Args...)
		require.NoError(t, err)
		for rows.Next() {
			vals, err := rows.Values()
			require.NoError(t, err)
			got = append(got, vals[0].(int64))
		}
		require.NoError(t, rows.Err())
		return got
	}
	for i, at := range []pos{{"0", 0}, all[0], all[17], all[39], all[40], all[99], all[119]} {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO watermill_offsets_ops_dispatch (consumer_group, offset_acked, last_processed_transaction_id)
			VALUES ($1, $2, $3::xid8) ON CONFLICT (consumer_group) DO UPDATE
			SET offset_acked = EXCLUDED.offset_acked, last_processed_transaction_id = EXCLUDED.last_processed_transaction_id`,
			workerGroup, at.offset, at.xid)
		require.NoError(t, err)
		want, got := read(tx, theirs), read(tx, ours)
		require.Equal(t, want, got, "from %v", at)
		if i < 6 {
			require.NotEmpty(t, got, "from %v", at)
		}
		var plan, line string
		lines, err := tx.Query(ctx, `EXPLAIN `+ours.Query, ours.Args...)
		require.NoError(t, err)
		for lines.Next() {
			require.NoError(t, lines.Scan(&line))
			plan += line + "\n"
		}
		require.NoError(t, lines.Err())
		require.NoError(t, tx.Rollback(ctx))
		require.Contains(t, plan, "Index Cond: ((ROW(transaction_id, \"offset\") > ROW(", "from %v", at)
		require.NotContains(t, plan, "Sort", "from %v", at)
	}
}
