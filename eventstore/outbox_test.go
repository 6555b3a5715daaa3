package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
)

// TestAppendWritesNoOutboxMessage: an append writes the log and nothing else; the
// per-append topic atlas_events and its tables are gone (nothing consumed them).
func TestAppendWritesNoOutboxMessage(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created("one"), created("two"))
	require.NoError(t, err)
	var tables int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'watermill%'`).Scan(&tables))
	require.Zero(t, tables)
}

// outboxTopic creates a watermill-sql topic's tables (the DefaultPostgreSQLSchema
// layout, as the migrations of ops_dispatch do), with or without its offsets table.
func outboxTopic(t *testing.T, b bundle, topic string, offsets bool) {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, fmt.Sprintf(`CREATE TABLE "watermill_%s" (
		"offset" BIGSERIAL, "uuid" VARCHAR(36) NOT NULL, "created_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
		"payload" JSON DEFAULT NULL, "metadata" JSON DEFAULT NULL, "transaction_id" xid8 NOT NULL,
		PRIMARY KEY ("transaction_id", "offset"))`, topic))
	require.NoError(t, err)
	if offsets {
		_, err = b.pool.Exec(b.ctx, fmt.Sprintf(`CREATE TABLE "watermill_offsets_%s" (consumer_group VARCHAR(255) NOT NULL,
			offset_acked BIGINT, last_processed_transaction_id xid8 NOT NULL, PRIMARY KEY (consumer_group))`, topic))
		require.NoError(t, err)
	}
}

// publish commits n messages to topic, each in a transaction of its own (as starts
// do), and returns their ids in order.
func publish(t *testing.T, b bundle, topic string, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		id := uuid.NewString()
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		batch := b.store.NewBatch()
		require.NoError(t, batch.Publish(topic, message.NewMessage(id, []byte(`{}`))))
		require.NoError(t, batch.Send(b.ctx, tx))
		require.NoError(t, tx.Commit(b.ctx))
		ids = append(ids, id)
	}
	return ids
}

// consume takes n messages of topic as consumer group, in order, acknowledging each,
// with a real watermill-sql subscriber (what the workers use).
func consume(t *testing.T, b bundle, topic, group string, n int) []string {
	t.Helper()
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(b.pool), wsql.SubscriberConfig{
		ConsumerGroup: group, SchemaAdapter: wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: 1},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{}, PollInterval: 10 * time.Millisecond,
	}, watermill.NopLogger{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, topic)
	require.NoError(t, err)
	var got []string
	for len(got) < n {
		select {
		case m := <-msgs:
			got = append(got, m.UUID)
			m.Ack()
		case <-ctx.Done():
			t.Fatalf("%s got %d of %d messages", group, len(got), n)
		}
	}
	// The subscriber commits an acknowledgement asynchronously, and Close does not
	// always wait for the last one: wait (bounded) until the group's offset has passed
	// every message received, then close.
	require.Eventually(t, func() bool {
		var passed bool
		require.NoError(t, b.pool.QueryRow(b.ctx, fmt.Sprintf(`SELECT COALESCE((SELECT offset_acked FROM "watermill_offsets_%s"
			WHERE consumer_group = $1), 0) >= (SELECT max("offset") FROM "watermill_%s" WHERE uuid = ANY($2))`, topic, topic), group, got).Scan(&passed))
		return passed
	}, 10*time.Second, 5*time.Millisecond, "%s never acknowledged its last message", group)
	require.NoError(t, sub.Close())
	return got
}

func remaining(t *testing.T, b bundle, topic string) []string {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, fmt.Sprintf(`SELECT uuid FROM "watermill_%s" ORDER BY transaction_id, "offset"`, topic))
	require.NoError(t, err)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

// TestOutboxSweep: after messages are published and consumed by two consumer groups,
// the sweep deletes exactly what both have passed and keeps what the slower one has not
// read; when both have read everything the table is empty. Messages older than the
// retention age go whatever the consumers, and so do those of a topic nobody consumes
// (a poison queue); younger ones stay. No table grows forever.
func TestOutboxSweep(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	outboxTopic(t, b, "sweep_jobs", true)
	outboxTopic(t, b, "sweep_jobs_poison", false)

	ids := publish(t, b, "sweep_jobs", 12)
	require.Equal(t, ids, consume(t, b, "sweep_jobs", "fast", 12))
	require.Equal(t, ids[:5], consume(t, b, "sweep_jobs", "slow", 5))
	n, err := b.store.SweepOutbox(b.ctx, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 5, n)
	require.Equal(t, ids[5:], remaining(t, b, "sweep_jobs"), "only what the slow group has not read stays")

	require.Equal(t, ids[5:], consume(t, b, "sweep_jobs", "slow", 7))
	_, err = b.store.SweepOutbox(b.ctx, time.Hour)
	require.NoError(t, err)
	require.Empty(t, remaining(t, b, "sweep_jobs"), "everything consumed by every group is gone")

	// Unconsumed and dead-letter messages: kept while young, gone once older than the age.
	fresh := publish(t, b, "sweep_jobs", 2)
	dead := publish(t, b, "sweep_jobs_poison", 3)
	_, err = b.pool.Exec(b.ctx, `UPDATE watermill_sweep_jobs SET created_at = created_at - interval '2 hours' WHERE uuid = $1`, fresh[0])
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE watermill_sweep_jobs_poison SET created_at = created_at - interval '2 hours' WHERE uuid <> $1`, dead[2])
	require.NoError(t, err)
	n, err = b.store.SweepOutbox(b.ctx, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	require.Equal(t, fresh[1:], remaining(t, b, "sweep_jobs"))
	require.Equal(t, dead[2:], remaining(t, b, "sweep_jobs_poison"))

	// A group that joins later starts at what is left, in order.
	require.Equal(t, fresh[1:], consume(t, b, "sweep_jobs", "late", 1))
}

// TestOutboxSweepIsSafeConcurrently sweeps from several goroutines at once (as several
// serve and worker processes do) while another holds the sweep lock for a moment: no
// error, and every message is deleted once.
func TestOutboxSweepIsSafeConcurrently(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	outboxTopic(t, b, "sweep_many", true)
	ids := publish(t, b, "sweep_many", 30)
	consume(t, b, "sweep_many", "only", len(ids))

	// While the lock is held elsewhere, a sweep does nothing and returns at once.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, `SELECT pg_advisory_xact_lock($1)`, int64(0x61746c6173_02))
	require.NoError(t, err)
	n, err := b.store.SweepOutbox(b.ctx, time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, tx.Rollback(b.ctx))

	var mu sync.Mutex
	var total int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			n, err := b.store.SweepOutbox(b.ctx, time.Hour)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	n, err = b.store.SweepOutbox(b.ctx, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, len(ids), total+n)
	require.Empty(t, remaining(t, b, "sweep_many"))
}
