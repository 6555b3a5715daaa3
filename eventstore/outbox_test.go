package eventstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore"
)

// TestOutboxPublishesCommittedEventsOnly appends in a rolled-back transaction and in a
// committed one, then consumes the outbox with a real watermill-sql subscriber: only the
// committed append arrives, as one message naming both events.
func TestOutboxPublishesCommittedEventsOnly(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	rolledBack, err := b.store.AppendTx(b.ctx, tx, newStream(), eventstore.NoStream, created("ghost"))
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(b.ctx))

	stream := newStream()
	res, err := b.store.Append(b.ctx, stream, eventstore.NoStream, created("one"), created("two"))
	require.NoError(t, err)

	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(b.pool), wsql.SubscriberConfig{
		ConsumerGroup:  "outbox_test",
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		PollInterval:   10 * time.Millisecond,
	}, watermill.NopLogger{})
	require.NoError(t, err)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, eventstore.OutboxTopic)
	require.NoError(t, err)

	select {
	case m := <-msgs:
		require.Equal(t, res.Events[0].EventID.String(), m.UUID)
		require.Equal(t, string(stream), m.Metadata.Get("stream_id"))
		require.Equal(t, "ThingCreated", m.Metadata.Get("event_types"))
		var om eventstore.OutboxMessage
		require.NoError(t, json.Unmarshal(m.Payload, &om))
		require.Equal(t, stream, om.StreamID)
		require.Len(t, om.Events, 2)
		require.Equal(t, res.Events[0].Metadata, om.Metadata)
		for i, e := range om.Events {
			require.Equal(t, res.Events[i].EventID, e.EventID)
			require.EqualValues(t, i+1, e.StreamVersion)
			require.Equal(t, "ThingCreated", e.Type)
		}
		// The payloads are read from the stream the message names.
		envs, err := b.store.ReadStream(b.ctx, om.StreamID, 0)
		require.NoError(t, err)
		require.Equal(t, thingCreated{Name: "two"}, envs[1].Data)
		m.Ack()
	case <-ctx.Done():
		t.Fatal("the committed append never reached the outbox subscriber")
	}
	select {
	case m := <-msgs:
		t.Fatalf("unexpected second message %s (the rolled-back append is %s)", m.UUID, rolledBack.Events[0].EventID)
	case <-time.After(300 * time.Millisecond):
	}

	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM watermill_atlas_events`).Scan(&n))
	require.Equal(t, 1, n, "one message per committed append; a rolled-back append leaves nothing")
}
