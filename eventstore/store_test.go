package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
)

type thingCreated struct {
	Name string `json:"name"`
}

func (thingCreated) EventType() string { return "ThingCreated" }

type thingRenamed struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (thingRenamed) EventType() string { return "ThingRenamed" }

func testRegistry() *eventstore.Registry {
	r := eventstore.NewRegistry()
	r.Register(thingCreated{}, 1)
	r.Register(thingRenamed{}, 1)
	return r
}

type bundle struct {
	pool  *pgxpool.Pool
	store *eventstore.Store
	ctx   context.Context
}

// setup returns a store on the package database (shared by parallel tests: each test
// uses streams of its own and never asserts on global counts).
func setup(t *testing.T) bundle {
	t.Helper()
	pool := pgtest.DB(t)
	return bundle{pool: pool, store: eventstore.New(pool, eventstore.Options{Registry: testRegistry()}), ctx: t.Context()}
}

// setupFresh returns a store on a database of the test's own, for tests that look at
// the whole log (sealing, verification, tampering).
func setupFresh(t *testing.T) bundle {
	t.Helper()
	pool := pgtest.Fresh(t)
	return bundle{pool: pool, store: eventstore.New(pool, eventstore.Options{Registry: testRegistry()}), ctx: t.Context()}
}

// setupOneConnection is setupFresh on a pool of one connection: one plan cache, for tests
// of how statements are planned as a table grows.
func setupOneConnection(t *testing.T) bundle {
	t.Helper()
	cfg := pgtest.Fresh(t).Config() // a copy
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return bundle{pool: pool, store: eventstore.New(pool, eventstore.Options{Registry: testRegistry()}), ctx: t.Context()}
}

func meta() eventstore.Metadata {
	return eventstore.Metadata{Actor: "system:test", WorkspaceID: uuid.New(), CorrelationID: uuid.New()}
}

func created(name string) eventstore.NewEvent {
	return eventstore.NewEvent{Data: thingCreated{Name: name}, Metadata: meta()}
}

func newStream() eventstore.StreamID { return eventstore.NewStreamID("thing", uuid.New()) }

func TestAppendAndReadStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stream := newStream()
	m := meta()
	m.TenantID = uuid.New()
	m.CausationID = uuid.New()
	res, err := b.store.Append(b.ctx, stream, eventstore.NoStream,
		eventstore.NewEvent{Data: thingCreated{Name: "a"}, Metadata: m},
		eventstore.NewEvent{Data: thingRenamed{From: "a", To: "b"}, Metadata: m})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Version)

	envs, err := b.store.ReadStream(b.ctx, stream, 0)
	require.NoError(t, err)
	require.Len(t, envs, 2)
	require.Equal(t, thingCreated{Name: "a"}, envs[0].Data)
	require.Equal(t, thingRenamed{From: "a", To: "b"}, envs[1].Data)
	for i, e := range envs {
		require.Equal(t, stream, e.StreamID)
		require.Equal(t, "thing", e.StreamType)
		require.EqualValues(t, i+1, e.StreamVersion)
		require.Equal(t, 1, e.SchemaVersion)
		require.Equal(t, m, e.Metadata)
		require.Equal(t, res.Events[i].EventID, e.EventID)
		require.Equal(t, byte(7), e.EventID[6]>>4, "event ids are UUIDv7")
		require.Equal(t, res.Events[i].Hash, e.Hash)
		require.Equal(t, res.Events[i].RecordedAt, e.RecordedAt)
	}

	after, err := b.store.ReadStream(b.ctx, stream, 1)
	require.NoError(t, err)
	require.Len(t, after, 1)
	require.Equal(t, "ThingRenamed", after[0].Type)
}

func TestAppendRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream)
	require.ErrorIs(t, err, eventstore.ErrNoEvents)

	_, err = b.store.Append(b.ctx, newStream(), eventstore.NoStream, eventstore.NewEvent{Data: unregisteredEvent{}, Metadata: meta()})
	require.ErrorIs(t, err, eventstore.ErrUnknownEventType)

	_, err = b.store.Append(b.ctx, newStream(), eventstore.NoStream, eventstore.NewEvent{Data: thingCreated{}})
	require.ErrorContains(t, err, "no actor")
}

type unregisteredEvent struct{}

func (unregisteredEvent) EventType() string { return "Unregistered" }

func TestExpectedVersionConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stream := newStream()
	_, err := b.store.Append(b.ctx, stream, eventstore.NoStream, created("a"))
	require.NoError(t, err)

	_, err = b.store.Append(b.ctx, stream, eventstore.NoStream, created("again"))
	var ce *eventstore.ConcurrencyError
	require.ErrorAs(t, err, &ce)
	require.EqualValues(t, 1, ce.Actual)
	require.EqualValues(t, 0, ce.Expected)
	require.ErrorIs(t, err, eventstore.ErrConcurrency)

	_, err = b.store.Append(b.ctx, stream, 5, created("b"))
	require.ErrorAs(t, err, &ce)
	require.EqualValues(t, 1, ce.Actual)

	_, err = b.store.Append(b.ctx, newStream(), 3, created("c"))
	require.ErrorAs(t, err, &ce)
	require.EqualValues(t, 0, ce.Actual, "a missing stream is at version 0")

	res, err := b.store.Append(b.ctx, stream, 1, created("b"))
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Version)
	res, err = b.store.Append(b.ctx, stream, eventstore.AnyVersion, created("c"), created("d"))
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Version)
	require.EqualValues(t, 3, res.Events[0].StreamVersion)
}

// TestConcurrentAppendsSameVersion races 50 writers, each on its own connection, all
// expecting the same version: exactly one wins and every loser learns the actual version.
func TestConcurrentAppendsSameVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stream := newStream()
	_, err := b.store.Append(b.ctx, stream, eventstore.NoStream, created("seed"))
	require.NoError(t, err)

	const writers = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			_, err := b.store.Append(b.ctx, stream, 1, created(fmt.Sprint("w", i)))
			mu.Lock()
			defer mu.Unlock()
			var ce *eventstore.ConcurrencyError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &ce):
				conflicts++
				if ce.Actual != 2 {
					t.Errorf("conflict reports version %d, want 2", ce.Actual)
				}
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, writers-1, conflicts)
	envs, err := b.store.ReadStream(b.ctx, stream, 0)
	require.NoError(t, err)
	require.Len(t, envs, 2)
}

func TestConcurrentNewStreamAndAnyVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stream := newStream()
	var wg sync.WaitGroup
	var mu sync.Mutex
	created1 := 0
	for i := range 30 {
		wg.Go(func() {
			_, err := b.store.Append(b.ctx, stream, eventstore.NoStream, created(fmt.Sprint(i)))
			if err == nil {
				mu.Lock()
				created1++
				mu.Unlock()
			} else if !errors.Is(err, eventstore.ErrConcurrency) {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, created1, "exactly one writer creates the stream")

	for i := range 30 {
		wg.Go(func() {
			_, err := b.store.Append(b.ctx, stream, eventstore.AnyVersion, created(fmt.Sprint(i)), created(fmt.Sprint(i)))
			if err != nil {
				t.Errorf("append any: %v", err)
			}
		})
	}
	wg.Wait()
	envs, err := b.store.ReadStream(b.ctx, stream, 0)
	require.NoError(t, err)
	require.Len(t, envs, 61)
	for i, e := range envs {
		require.EqualValues(t, i+1, e.StreamVersion, "versions stay dense under concurrent AnyVersion appends")
	}
}

// TestAppendInCallerTransaction writes a row of the caller's own and events in one
// transaction: a rollback leaves neither, a commit both.
func TestAppendInCallerTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.pool.Exec(b.ctx, `CREATE TABLE IF NOT EXISTS caller_rows (id uuid PRIMARY KEY)`)
	require.NoError(t, err)

	for _, commit := range []bool{false, true} {
		stream := newStream()
		rowID := uuid.New()
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		_, err = tx.Exec(b.ctx, `INSERT INTO caller_rows (id) VALUES ($1)`, rowID)
		require.NoError(t, err)
		res, err := b.store.AppendTx(b.ctx, tx, stream, eventstore.NoStream, created("x"))
		require.NoError(t, err)

		// A conflict inside the caller's transaction leaves it usable.
		_, err = b.store.AppendTx(b.ctx, tx, stream, eventstore.NoStream, created("y"))
		require.ErrorIs(t, err, eventstore.ErrConcurrency)

		if commit {
			require.NoError(t, tx.Commit(b.ctx))
		} else {
			require.NoError(t, tx.Rollback(b.ctx))
		}
		var rows, events int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM caller_rows WHERE id = $1`, rowID).Scan(&rows))
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE event_id = $1`, res.Events[0].EventID).Scan(&events))
		want := 0
		if commit {
			want = 1
		}
		require.Equal(t, []int{want, want}, []int{rows, events}, "commit=%v", commit)
	}
}

// TestUpcasting writes a v1 payload, then reads it through a registry where the type
// has moved to v2 with an upcaster: the old event decodes into the new struct.
func TestUpcasting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stream := newStream()
	v1 := eventstore.NewRegistry()
	v1.Register(labelSetV1{}, 1)
	_, err := eventstore.New(b.pool, eventstore.Options{Registry: v1}).Append(b.ctx, stream, eventstore.NoStream,
		eventstore.NewEvent{Data: labelSetV1{Label: "Contoso"}, Metadata: meta()})
	require.NoError(t, err)

	v2 := eventstore.NewRegistry()
	v2.Register(labelSetV2{}, 2, eventstore.Upcaster{From: 1, Fn: func(data json.RawMessage) (json.RawMessage, error) {
		var old labelSetV1
		if err := json.Unmarshal(data, &old); err != nil {
			return nil, err
		}
		return json.Marshal(labelSetV2{DisplayName: old.Label, Locale: "en"})
	}})
	storeV2 := eventstore.New(b.pool, eventstore.Options{Registry: v2})
	_, err = storeV2.Append(b.ctx, stream, 1, eventstore.NewEvent{Data: labelSetV2{DisplayName: "Fabrikam", Locale: "de"}, Metadata: meta()})
	require.NoError(t, err)

	envs, err := storeV2.ReadStream(b.ctx, stream, 0)
	require.NoError(t, err)
	require.Len(t, envs, 2)
	require.Equal(t, 1, envs[0].SchemaVersion, "the stored payload keeps its version")
	require.Equal(t, labelSetV2{DisplayName: "Contoso", Locale: "en"}, envs[0].Data)
	require.Equal(t, 2, envs[1].SchemaVersion)
	require.Equal(t, labelSetV2{DisplayName: "Fabrikam", Locale: "de"}, envs[1].Data)

	// The old build cannot read the newer payload: a clear error, not a wrong value.
	_, err = eventstore.New(b.pool, eventstore.Options{Registry: v1}).ReadStream(b.ctx, stream, 0)
	require.ErrorContains(t, err, "newer than this build knows")
}

type labelSetV1 struct {
	Label string `json:"label"`
}

func (labelSetV1) EventType() string { return "LabelSet" }

type labelSetV2 struct {
	DisplayName string `json:"displayName"`
	Locale      string `json:"locale"`
}

func (labelSetV2) EventType() string { return "LabelSet" }

func TestRegistryRejectsMissingUpcaster(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { eventstore.NewRegistry().Register(labelSetV2{}, 2) })
	r := eventstore.NewRegistry()
	r.Register(labelSetV1{}, 1)
	require.Panics(t, func() { r.Register(labelSetV1{}, 1) }, "duplicate registration")
}

// TestUUIDArray: the fast argument form of a uuid list round-trips through PostgreSQL.
func TestUUIDArray(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.Nil}
	var got []uuid.UUID
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT $1::uuid[]`, eventstore.UUIDArray(ids)).Scan(&got))
	require.Equal(t, ids, got)
	require.Empty(t, eventstore.UUIDArray(nil))
}

// TestReadStreamsTx: one query reads several streams past a version of each, in stream
// order, inside the caller's transaction (it sees that transaction's own appends); a
// stream with nothing past its version, or none at all, has no entry.
func TestReadStreamsTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, c, empty, missing := newStream(), newStream(), newStream(), newStream()
	for i, s := range []eventstore.StreamID{a, c, empty} {
		evs := []eventstore.NewEvent{created(fmt.Sprint(i))}
		for j := range 3 {
			evs = append(evs, eventstore.NewEvent{Data: thingRenamed{From: fmt.Sprint(j), To: fmt.Sprint(j + 1)}, Metadata: meta()})
		}
		_, err := b.store.Append(b.ctx, s, eventstore.NoStream, evs...)
		require.NoError(t, err)
	}
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(b.ctx) }()
	_, err = b.store.AppendTx(b.ctx, tx, c, 4, eventstore.NewEvent{Data: thingRenamed{From: "3", To: "4"}, Metadata: meta()})
	require.NoError(t, err)

	got, err := b.store.ReadStreamsTx(b.ctx, tx, map[eventstore.StreamID]int64{a: 0, c: 2, empty: 4, missing: 0})
	require.NoError(t, err)
	require.Len(t, got, 2)
	versions := func(envs []eventstore.Envelope) (vs []int64) {
		for _, e := range envs {
			require.NotNil(t, e.Data, "decoded")
			vs = append(vs, e.StreamVersion)
		}
		return vs
	}
	require.Equal(t, []int64{1, 2, 3, 4}, versions(got[a]))
	require.Equal(t, thingCreated{Name: "0"}, got[a][0].Data)
	require.Equal(t, []int64{3, 4, 5}, versions(got[c]), "the transaction's own append is read")
	for s, envs := range got {
		for _, e := range envs {
			require.Equal(t, s, e.StreamID)
		}
	}
	got, err = b.store.ReadStreamsTx(b.ctx, tx, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestReadStreamsTxPlansForTheGrownLog: ReadStreamsTx, run many times on one connection
// while the log is nearly empty (where PostgreSQL would settle on a generic plan that
// scans the whole table), still reads a grown log through its stream index: within its
// transaction, es_events is never scanned sequentially (PlanEachTime).
func TestReadStreamsTxPlansForTheGrownLog(t *testing.T) {
	t.Parallel()
	b := setupOneConnection(t)
	first := newStream()
	_, err := b.store.Append(b.ctx, first, eventstore.NoStream, created("first"))
	require.NoError(t, err)
	read := func() (seqScans int64) {
		t.Helper()
		require.NoError(t, pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			got, err := b.store.ReadStreamsTx(b.ctx, tx, map[eventstore.StreamID]int64{first: 0})
			require.NoError(t, err)
			require.Len(t, got[first], 1)
			return tx.QueryRow(b.ctx, `SELECT COALESCE(sum(seq_scan), 0) FROM pg_stat_xact_user_tables WHERE relname = 'es_events'`).Scan(&seqScans)
		}))
		return seqScans
	}
	for range 10 {
		read()
	}
	for range 40 {
		evs := make([]eventstore.NewEvent, 100)
		for i := range evs {
			evs[i] = created(fmt.Sprint(i))
		}
		_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, evs...)
		require.NoError(t, err)
	}
	require.Zero(t, read(), "ReadStreamsTx scanned the whole log")
}
