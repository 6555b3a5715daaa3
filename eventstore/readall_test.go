package eventstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore"
)

// TestReadAllDoesNotPassUncommitted holds transaction A open with an appended event,
// commits a later transaction B, and shows a reader does not get past A's event; once A
// commits, the reader sees both, A first.
func TestReadAllDoesNotPassUncommitted(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	streamA, streamB := newStream(), newStream()

	txA, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer txA.Rollback(b.ctx) //nolint:errcheck // no-op after commit
	_, err = b.store.AppendTx(b.ctx, txA, streamA, eventstore.NoStream, created("A"))
	require.NoError(t, err)

	_, err = b.store.Append(b.ctx, streamB, eventstore.NoStream, created("B"))
	require.NoError(t, err)

	envs, err := b.store.ReadAll(b.ctx, 0, 100)
	require.NoError(t, err)
	require.Empty(t, envs, "B committed, but A (earlier) is still open: the reader must not pass A")
	head, err := b.store.Head(b.ctx)
	require.NoError(t, err)
	require.Zero(t, head)

	require.NoError(t, txA.Commit(b.ctx))
	sealUntil(t, b, 2)
	envs, err = b.store.ReadAll(b.ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, envs, 2)
	require.Equal(t, streamA, envs[0].StreamID)
	require.Equal(t, streamB, envs[1].StreamID)
	require.EqualValues(t, 1, envs[0].Position)
	require.EqualValues(t, 2, envs[1].Position)
}

// TestReadAllUnderConcurrentWriters runs 16 writers whose transactions overlap and commit
// in random order (some roll back) while a reader tails ReadAll from its last position.
// The reader must see every committed event exactly once, at dense positions, and never
// an event of a rolled-back transaction.
func TestReadAllUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	const writers, perWriter = 16, 25

	var committed sync.Map // event id -> struct{}
	var committedCount atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWriter {
				tx, err := b.pool.Begin(b.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				n := 1 + rng.IntN(3)
				evs := make([]eventstore.NewEvent, n)
				for k := range evs {
					evs[k] = created(fmt.Sprintf("w%d-%d-%d", w, i, k))
				}
				res, err := b.store.AppendTx(b.ctx, tx, newStream(), eventstore.NoStream, evs...)
				if err != nil {
					t.Error(err)
					_ = tx.Rollback(b.ctx)
					return
				}
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				if rng.IntN(10) == 0 {
					_ = tx.Rollback(b.ctx)
					continue
				}
				if err := tx.Commit(b.ctx); err != nil {
					t.Error(err)
					return
				}
				for _, e := range res.Events {
					committed.Store(e.EventID, struct{}{})
				}
				committedCount.Add(int64(len(res.Events)))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[uuid.UUID]bool{}
	var last int64
	read := func() {
		envs, err := b.store.ReadAll(b.ctx, last, 37)
		require.NoError(t, err)
		for _, e := range envs {
			require.Equal(t, last+1, e.Position, "positions are dense and in order")
			require.False(t, seen[e.EventID], "event read twice")
			seen[e.EventID] = true
			last = e.Position
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			read()
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for int64(len(seen)) < committedCount.Load() && time.Now().Before(deadline) {
		read()
	}
	require.EqualValues(t, committedCount.Load(), len(seen))
	committed.Range(func(k, _ any) bool {
		id := k.(uuid.UUID)
		require.True(t, seen[id], "committed event never read")
		return true
	})
}

// TestSealKeepsStreamOrder: transaction ids do not follow commit order. B takes its id
// first, A appends version 1 of a stream and commits, then B appends version 2. The log
// must hold version 1 before version 2, also when a third transaction, open between the
// two ids, keeps A (but not B) above the seal horizon for a while.
func TestSealKeepsStreamOrder(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	stream := newStream()
	begin := func() pgx.Tx {
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		_, err = tx.Exec(b.ctx, `SELECT pg_current_xact_id()`) // takes a transaction id now
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) })
		return tx
	}
	txB := begin()
	txC := begin() // open between B's id and A's
	_, err := b.store.Append(b.ctx, stream, eventstore.NoStream, created("v1"))
	require.NoError(t, err)
	_, err = b.store.AppendTx(b.ctx, txB, stream, eventstore.AnyVersion, created("v2"))
	require.NoError(t, err)
	require.NoError(t, txB.Commit(b.ctx))

	// B is below the horizon, A is not (C is older and open): version 2 must wait.
	n, err := b.store.Seal(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "version 2 is held back until version 1 can be sealed")

	require.NoError(t, txC.Commit(b.ctx))
	sealUntil(t, b, 2)
	envs, err := b.store.ReadAll(b.ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, envs, 2)
	require.EqualValues(t, 1, envs[0].StreamVersion)
	require.EqualValues(t, 2, envs[1].StreamVersion)
	res, err := b.store.Verify(b.ctx, nil)
	require.NoError(t, err)
	require.True(t, res.OK, "the chain holds")
}

// TestSealCommitted waits while an older open transaction holds the seal horizon back,
// returns once everything committed before the call is sealed, and gives up when its
// context ends.
func TestSealCommitted(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	txA, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer txA.Rollback(b.ctx) //nolint:errcheck // no-op after commit
	_, err = b.store.AppendTx(b.ctx, txA, newStream(), eventstore.NoStream, created("A"))
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, newStream(), eventstore.NoStream, created("B"))
	require.NoError(t, err)

	short, cancel := context.WithTimeout(b.ctx, 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.store.SealCommitted(short), context.DeadlineExceeded, "A holds B back")

	done := make(chan error, 1)
	go func() { done <- b.store.SealCommitted(b.ctx) }()
	select {
	case err := <-done:
		t.Fatalf("returned while A was open: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, txA.Commit(b.ctx))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SealCommitted did not return after A committed")
	}
	head, err := b.store.Head(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, head)
}

// TestReadAllRawMatchesReadAll: the raw read returns ReadAll's events (same positions,
// streams, types and payload bytes) without decoding them, page by page.
func TestReadAllRawMatchesReadAll(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	for i := range 5 {
		_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created(fmt.Sprintf("raw %d", i)))
		require.NoError(t, err)
	}
	sealUntil(t, b, 5)
	want, err := b.store.ReadAll(b.ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, want, 5)
	var got []eventstore.Envelope
	for at := int64(0); ; {
		page, err := b.store.ReadAllRaw(b.ctx, at, 2)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 2)
		got = append(got, page...)
		at = page[len(page)-1].Position
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Nil(t, got[i].Data, "not decoded")
		require.NotNil(t, want[i].Data)
		require.Equal(t, want[i].Position, got[i].Position)
		require.Equal(t, want[i].StreamID, got[i].StreamID)
		require.Equal(t, want[i].Type, got[i].Type)
		require.Equal(t, want[i].RawData, got[i].RawData)
	}
}

// TestConcurrentSealersNeverGiveAPositionTwice: sealers of several "processes" (stores
// on one database) race each other while writers append. Each sealer takes the
// advisory lock and must then read the head the previous holder left: a head read in
// the snapshot taken before the lock was granted gives positions twice, which the
// unique index refuses (a seal error here). In the end every event has exactly one
// position, 1..n without a hole, and the chain verifies.
func TestConcurrentSealersNeverGiveAPositionTwice(t *testing.T) {
	b := setupFresh(t)
	const writers, perWriter, sealers = 4, 150, 4
	ctx, stop := context.WithCancel(b.ctx)
	var sealErrs sync.Map
	var sw sync.WaitGroup
	for i := range sealers {
		st := eventstore.New(b.pool, eventstore.Options{Registry: testRegistry()})
		sw.Go(func() {
			for ctx.Err() == nil {
				if _, err := st.Seal(ctx); err != nil && ctx.Err() == nil {
					sealErrs.Store(i, err.Error())
				}
			}
		})
	}
	var ww sync.WaitGroup
	for range writers {
		ww.Go(func() {
			for j := range perWriter {
				_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created(fmt.Sprint(j)))
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	ww.Wait()
	require.NoError(t, b.store.SealCommitted(b.ctx))
	stop()
	sw.Wait()
	sealErrs.Range(func(k, v any) bool { t.Errorf("sealer %v: %v", k, v); return true })

	var n, maxPos, distinct int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*), coalesce(max(global_position), 0), count(DISTINCT global_position)
		FROM es_events`).Scan(&n, &maxPos, &distinct))
	require.Equal(t, int64(writers*perWriter), n)
	require.Equal(t, n, maxPos, "positions 1..n without a hole")
	require.Equal(t, n, distinct, "every event sealed once")
	res, err := b.store.Verify(b.ctx, nil)
	require.NoError(t, err)
	require.True(t, res.OK, "chain: %s at %d", res.Reason, res.FirstBad)
	require.Equal(t, n, res.Checked)
}

// TestSealCallersShareOneSeal: callers that arrive while this process's seal turn is
// taken share the next seal: eight callers waiting run one seal between them, each
// told what it sealed; a caller that arrives after it seals again.
func TestSealCallersShareOneSeal(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	for i := range 10 {
		_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	release := eventstore.HoldSealTurn(b.store)
	const callers = 8
	sealed := make([]int, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { sealed[i], errs[i] = b.store.Seal(b.ctx) })
	}
	require.Eventually(t, func() bool {
		_, in := eventstore.SealCounts(b.store)
		return in == callers
	}, 10*time.Second, time.Millisecond)
	before, _ := eventstore.SealCounts(b.store)
	release()
	wg.Wait()
	after, in := eventstore.SealCounts(b.store)
	require.Equal(t, before+1, after, "one seal for the eight callers")
	require.Zero(t, in)
	// The seal horizon is the server's (another database's open transaction holds it
	// back), so the shared seal may have sealed fewer than 10: whatever it sealed, each
	// caller is told that.
	head, err := b.store.Head(b.ctx)
	require.NoError(t, err)
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, int(head), sealed[i], "caller %d is told what the shared seal did", i)
	}

	_, err = b.store.Seal(b.ctx)
	require.NoError(t, err)
	started, _ := eventstore.SealCounts(b.store)
	require.Equal(t, after+1, started, "a caller after the shared seal seals again")
	require.NoError(t, b.store.SealCommitted(b.ctx))
	head, err = b.store.Head(b.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(10), head)
}
