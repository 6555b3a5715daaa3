package eventstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore"
)

// seedLog writes 10 events over 4 streams and seals them.
func seedLog(t *testing.T, b bundle) {
	t.Helper()
	for range 4 {
		_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created("a"), created("b"))
		require.NoError(t, err)
	}
	_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created("c"), created("d"))
	require.NoError(t, err)
	sealUntil(t, b, 10)
}

// sealUntil seals until the head reaches want. Sealing waits for every older
// transaction of the whole cluster (other test databases included) to end, so it may
// take a few rounds while parallel tests hold transactions open.
func sealUntil(t testing.TB, b bundle, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := b.store.Seal(b.ctx)
		require.NoError(t, err)
		head, err := b.store.Head(b.ctx)
		require.NoError(t, err)
		if head >= want {
			require.Equal(t, want, head)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sealed %d of %d events in 30s", head, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestVerifyIntact(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	res, err := b.store.Verify(b.ctx, nil)
	require.NoError(t, err)
	require.True(t, res.OK, "an empty log verifies")

	seedLog(t, b)
	res, err = b.store.Verify(b.ctx, nil)
	require.NoError(t, err)
	require.True(t, res.OK, res.Reason)
	require.EqualValues(t, 10, res.Checked)
	require.EqualValues(t, 10, res.Head)
}

// TestVerifyDetectsTampering edits, deletes and reorders events with raw SQL, each on a
// fresh log, and checks Verify names the first bad global position.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sql     []string
		badAt   int64
		because string
	}{
		{"edit payload", []string{`UPDATE es_events SET data = '{"name":"forged"}' WHERE global_position = 4`}, 4, "edited"},
		{"edit actor", []string{`UPDATE es_events SET actor = 'user:mallory' WHERE global_position = 7`}, 7, "edited"},
		{"edit time", []string{`UPDATE es_events SET recorded_at = recorded_at - interval '1 day' WHERE global_position = 2`}, 2, "edited"},
		{"delete middle", []string{`DELETE FROM es_events WHERE global_position = 5`}, 5, "deleted"},
		{"delete tail", []string{`DELETE FROM es_events WHERE global_position = 10`}, 10, "deleted"},
		{"delete and renumber", []string{
			`DELETE FROM es_events WHERE global_position = 3`,
			`UPDATE es_events SET global_position = global_position - 1 WHERE global_position > 3`,
		}, 3, "chain"},
		{"swap two positions", []string{
			`UPDATE es_events SET global_position = -6 WHERE global_position = 6`,
			`UPDATE es_events SET global_position = 6 WHERE global_position = 8`,
			`UPDATE es_events SET global_position = 8 WHERE global_position = -6`,
		}, 6, "reordered"},
		{"swap payloads", []string{
			`UPDATE es_events e SET data = o.data::json FROM (SELECT global_position, data::text FROM es_events) o
				WHERE (e.global_position, o.global_position) IN ((1, 2), (2, 1))`,
		}, 1, "edited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFresh(t)
			seedLog(t, b)
			for _, q := range tc.sql {
				_, err := b.pool.Exec(b.ctx, q)
				require.NoError(t, err)
			}
			res, err := b.store.Verify(b.ctx, nil)
			require.NoError(t, err)
			require.False(t, res.OK)
			require.Equal(t, tc.badAt, res.FirstBad, res.Reason)
			require.Contains(t, res.Reason, tc.because)
		})
	}
}

// TestUnsealedCountsWhatIsLeft: Unsealed answers what a plain count of the unsealed
// events answers, before and after seals, and while an open transaction holds the seal
// horizon back (what commits after it is counted; its own events once it commits).
func TestUnsealedCountsWhatIsLeft(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	check := func(want int64) {
		t.Helper()
		var plain int64
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE global_position IS NULL`).Scan(&plain))
		got, err := b.store.Unsealed(b.ctx)
		require.NoError(t, err)
		require.Equal(t, []int64{want, want}, []int64{plain, got})
	}
	check(0)
	for range 3 {
		_, err := b.store.Append(b.ctx, newStream(), eventstore.NoStream, created("a"), created("b"))
		require.NoError(t, err)
	}
	check(6)
	// SealCommitted: another test's transaction on the server may hold the horizon.
	require.NoError(t, b.store.SealCommitted(b.ctx))
	check(0)

	// An open transaction holds the seal horizon: what commits after it stays unsealed.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(b.ctx) }()
	_, err = b.store.AppendTx(b.ctx, tx, newStream(), eventstore.NoStream, created("open"))
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, newStream(), eventstore.NoStream, created("after"))
	require.NoError(t, err)
	_, err = b.store.Seal(b.ctx)
	require.NoError(t, err)
	check(1)
	require.NoError(t, tx.Commit(b.ctx))
	check(2)
	require.NoError(t, b.store.SealCommitted(b.ctx))
	check(0)
}
