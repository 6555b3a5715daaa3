package projections_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// indexDefs are the definitions of rm_runs_v2's indexes without their names, sorted.
func indexDefs(t *testing.T, w *world) []string {
	t.Helper()
	rows, err := w.pool.Query(w.ctx, `SELECT pg_get_indexdef(indexrelid), indisprimary FROM pg_index WHERE indrelid = 'rm_runs_v2'::regclass`)
	require.NoError(t, err)
	defer rows.Close()
	name := regexp.MustCompile(`INDEX \S+ ON`)
	var defs []string
	for rows.Next() {
		var def string
		var pk bool
		require.NoError(t, rows.Scan(&def, &pk))
		if pk {
			def = "PRIMARY " + def
		}
		defs = append(defs, name.ReplaceAllString(def, "INDEX ON"))
	}
	require.NoError(t, rows.Err())
	slices.Sort(defs)
	return defs
}

// TestBulkRebuildEqualsIncremental rebuilds hub_runs the bulk way (the log folded in
// memory, rows loaded with COPY, indexes made after the load) and compares it with the
// read model the runner builds event batch by event batch: the same rows (md5 of every
// row's text), the same indexes. The log has ended runs, runs still queued, links
// appended to ended runs (late events, applied after the load) and to a going run, and
// events of a stream without a RunQueued; pages of two events and COPYs of one row take it
// through every path of the load. It runs three times: ended runs held for the default
// window (no late events in so small a log); handed out at once, their later events (the
// completion notices, the links) applied after the load; and those applied during the
// load as soon as there is one (the bound on what is held).
func TestBulkRebuildEqualsIncremental(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 12) // even ones ended, odd ones queued
	link := func(run uuid.UUID) {
		t.Helper()
		_, err := w.app.Store.Append(w.ctx, operations.RunStream(run), eventstore.AnyVersion, eventstore.NewEvent{
			Data: operations.RunLinked{Kind: operations.LinkBackupSet, ID: uuid.New()}, Metadata: eventstore.Metadata{Actor: "test"}})
		require.NoError(t, err)
	}
	link(ids[0])
	link(ids[2])
	link(ids[0])
	link(ids[1])
	link(uuid.New()) // a stream with no RunQueued: no row
	w.runSome(t, 4)  // more runs after the links; runSome waits until all is sealed
	hub := projections.HubRuns{}
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 3})
	rebuildFromZero(t, w, r)
	want, wantIdx := checksum(t, w.pool), indexDefs(t, w)
	var n int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs_v2`).Scan(&n))
	require.GreaterOrEqual(t, n, 14) // runSome(4) repeats contexts: a queued one is deduped

	for _, c := range []struct{ lateMax, hold int }{{0, 0}, {0, -1}, {1, -1}} {
		lateMax, hold := c.lateMax, c.hold
		r := projections.NewRunner(w.pool, w.app.Store, projections.WithBulkSizes(projections.Options{BatchSize: 3}, 2, 1, lateMax, hold))
		res, err := r.Rebuild(w.ctx, hub, nil)
		require.NoError(t, err)
		head, err := w.app.Store.Head(w.ctx)
		require.NoError(t, err)
		require.Equal(t, head, res.Events)
		st, ok := r.LastBulkStats()
		require.True(t, ok, "hub_runs rebuilds the bulk way")
		require.EqualValues(t, n, st.Rows)
		if hold < 0 {
			require.Positive(t, st.LateEvents, "completion notices and links of runs handed out")
		} else {
			require.Zero(t, st.LateEvents, "everything held in memory")
		}
		require.Equal(t, want, checksum(t, w.pool), "late max %d, hold %d", lateMax, hold)
		require.Equal(t, wantIdx, indexDefs(t, w))
		var analyzed bool
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'rm_runs_v2'`).Scan(&analyzed))
		require.True(t, analyzed, "the rebuilt table has its statistics before it serves")
		pos, err := r.Checkpoint(w.ctx, hub)
		require.NoError(t, err)
		require.Equal(t, head, pos)
	}
	// The rebuilt model keeps being advanced by the runner like the incremental one.
	w.runSome(t, 2)
	_, err := r.CatchUp(w.ctx, hub)
	require.NoError(t, err)
	got := checksum(t, w.pool)
	rebuildFromZero(t, w, r)
	require.Equal(t, checksum(t, w.pool), got)
}
