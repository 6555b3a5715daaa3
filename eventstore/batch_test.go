package eventstore_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
)

// TestBatch sends a statement of the caller's own, two appends and a message of another
// topic in one round trip, then checks all of it committed; a second batch that hits a
// version conflict reports it and its rollback leaves nothing.
func TestBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.pool.Exec(b.ctx, `CREATE TABLE IF NOT EXISTS batch_rows (id uuid PRIMARY KEY);
		CREATE TABLE IF NOT EXISTS "watermill_batch_topic" ("offset" BIGSERIAL, "uuid" VARCHAR(36) NOT NULL,
			"created_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "payload" JSON DEFAULT NULL, "metadata" JSON DEFAULT NULL,
			"transaction_id" xid8 NOT NULL, PRIMARY KEY ("transaction_id", "offset"))`)
	require.NoError(t, err)

	s1, s2, rowID := newStream(), newStream(), uuid.New()
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	batch := b.store.NewBatch()
	ins := batch.Exec(`INSERT INTO batch_rows (id) VALUES ($1) ON CONFLICT DO NOTHING`, rowID)
	r1, err := batch.Append(b.ctx, s1, eventstore.NoStream, created("one"), created("two"))
	require.NoError(t, err)
	_, err = batch.Append(b.ctx, s2, eventstore.NoStream, created("three"))
	require.NoError(t, err)
	msgID := uuid.NewString()
	require.NoError(t, batch.Publish("batch_topic", message.NewMessage(msgID, []byte(`{"k":1}`))))
	_, err = batch.Append(b.ctx, s2, eventstore.AnyVersion, created("x"))
	require.Error(t, err, "AnyVersion cannot be batched")
	require.NoError(t, batch.Send(b.ctx, tx))
	require.NoError(t, tx.Commit(b.ctx))
	require.EqualValues(t, 1, ins.RowsAffected)
	require.EqualValues(t, 2, r1.Version)

	envs, err := b.store.ReadStream(b.ctx, s1, 0)
	require.NoError(t, err)
	require.Len(t, envs, 2)
	require.Equal(t, r1.Events[1].Hash, envs[1].Hash)
	var outbox int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM watermill_batch_topic WHERE uuid = $1`, msgID).Scan(&outbox))
	require.Equal(t, 1, outbox, "the message of the batch committed with it")

	// Conflict: s1 is at version 2, not new.
	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	batch = b.store.NewBatch()
	other := uuid.New()
	batch.Exec(`INSERT INTO batch_rows (id) VALUES ($1)`, other)
	_, err = batch.Append(b.ctx, s1, eventstore.NoStream, created("again"))
	require.NoError(t, err)
	err = batch.Send(b.ctx, tx)
	var ce *eventstore.ConcurrencyError
	require.ErrorAs(t, err, &ce)
	require.EqualValues(t, 2, ce.Actual)
	require.NoError(t, tx.Rollback(b.ctx))
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM batch_rows WHERE id = $1`, other).Scan(&n))
	require.Zero(t, n)
}

// TestAppendEach: one statement appends to many existing streams, each from its exact
// version, in the order given; a stream not at its version fails the batch with a
// *ConcurrencyError naming it (its transaction then rolls back: nothing of the batch
// stays); a stream named twice, a version that is not exact and a Commit are refused.
func TestAppendEach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c := newStream(), newStream()
	_, err := b.store.Append(b.ctx, a, eventstore.NoStream, created("a"))
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, c, eventstore.NoStream, created("c"), created("c2"))
	require.NoError(t, err)
	renamed := func(from, to string) eventstore.NewEvent {
		return eventstore.NewEvent{Data: thingRenamed{From: from, To: to}, Metadata: meta()}
	}
	send := func(appends ...eventstore.StreamAppend) ([]eventstore.AppendResult, error) {
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(b.ctx) }()
		batch := b.store.NewBatch()
		res, err := batch.AppendEach(b.ctx, appends...)
		if err != nil {
			return nil, err
		}
		if err := batch.Send(b.ctx, tx); err != nil {
			return nil, err
		}
		return res, tx.Commit(b.ctx)
	}
	res, err := send(eventstore.StreamAppend{Stream: a, Expected: 1, Events: []eventstore.NewEvent{renamed("a", "b"), renamed("b", "c")}},
		eventstore.StreamAppend{Stream: c, Expected: 2, Events: []eventstore.NewEvent{renamed("c", "d")}})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 3}, []int64{res[0].Version, res[1].Version})
	got, err := b.store.ReadStream(b.ctx, a, 0)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, thingRenamed{From: "b", To: "c"}, got[2].Data)
	require.Equal(t, res[0].Events[1].EventID, got[2].EventID)
	got, err = b.store.ReadStream(b.ctx, c, 0)
	require.NoError(t, err)
	require.Equal(t, int64(3), got[2].StreamVersion)

	// c is at 3, not 2: the whole batch fails and rolls back, a's append included.
	_, err = send(eventstore.StreamAppend{Stream: a, Expected: 3, Events: []eventstore.NewEvent{renamed("c", "x")}},
		eventstore.StreamAppend{Stream: c, Expected: 2, Events: []eventstore.NewEvent{renamed("d", "x")}})
	var ce *eventstore.ConcurrencyError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, eventstore.ConcurrencyError{Stream: c, Expected: 2, Actual: 3}, *ce)
	got, err = b.store.ReadStream(b.ctx, a, 0)
	require.NoError(t, err)
	require.Len(t, got, 3, "rolled back with the batch")

	batch := b.store.NewBatch()
	_, err = batch.AppendEach(b.ctx, eventstore.StreamAppend{Stream: a, Expected: 3, Events: []eventstore.NewEvent{renamed("c", "x")}},
		eventstore.StreamAppend{Stream: a, Expected: 3, Events: []eventstore.NewEvent{renamed("c", "y")}})
	require.Error(t, err, "a stream twice")
	for _, v := range []int64{eventstore.NoStream, eventstore.AnyVersion} {
		_, err = batch.AppendEach(b.ctx, eventstore.StreamAppend{Stream: a, Expected: v, Events: []eventstore.NewEvent{renamed("c", "x")}})
		require.Error(t, err, "version %d", v)
	}
	_, err = batch.AppendEach(b.ctx, eventstore.StreamAppend{Stream: a, Expected: 3})
	require.ErrorIs(t, err, eventstore.ErrNoEvents)
	_, err = batch.AppendEach(b.ctx, eventstore.StreamAppend{Stream: a, Expected: 3, Events: []eventstore.NewEvent{renamed("c", "x")}})
	require.NoError(t, err)
	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	require.Error(t, batch.Commit(b.ctx, conn.Conn()), "Commit takes no AppendEach")
	got, err = b.store.ReadStream(b.ctx, a, 0)
	require.NoError(t, err)
	require.Len(t, got, 3)
}

// TestAppendEachPlansForTheGrownStreams: AppendEach after PreferIndexes, run many times on
// one connection while es_streams is nearly empty, still finds a grown table's streams
// through the primary key: within its transaction, es_streams is never scanned
// sequentially. Without PreferIndexes the plan made on the empty table scans it all.
func TestAppendEachPlansForTheGrownStreams(t *testing.T) {
	t.Parallel()
	b := setupOneConnection(t)
	streams := []eventstore.StreamID{newStream(), newStream()}
	versions := []int64{1, 1}
	for _, s := range streams {
		_, err := b.store.Append(b.ctx, s, eventstore.NoStream, created("x"))
		require.NoError(t, err)
	}
	appendEach := func() (seqScans int64) {
		t.Helper()
		require.NoError(t, pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			batch := b.store.NewBatch()
			batch.PreferIndexes()
			var appends []eventstore.StreamAppend
			for i, s := range streams {
				appends = append(appends, eventstore.StreamAppend{Stream: s, Expected: versions[i], Events: []eventstore.NewEvent{created("y")}})
				versions[i]++
			}
			_, err := batch.AppendEach(b.ctx, appends...)
			require.NoError(t, err)
			require.NoError(t, batch.Send(b.ctx, tx))
			return tx.QueryRow(b.ctx, `SELECT COALESCE(sum(seq_scan), 0) FROM pg_stat_xact_user_tables WHERE relname = 'es_streams'`).Scan(&seqScans)
		}))
		return seqScans
	}
	for range 10 {
		appendEach()
	}
	grow, more := b.store.NewBatch(), make([]eventstore.NewStream, 3000)
	for i := range more {
		more[i] = eventstore.NewStream{Stream: newStream(), Events: []eventstore.NewEvent{created("z")}}
	}
	_, err := grow.AppendNew(b.ctx, more...)
	require.NoError(t, err)
	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	require.NoError(t, grow.Commit(b.ctx, conn.Conn()))
	conn.Release()
	require.Zero(t, appendEach(), "AppendEach scanned every stream")
}
