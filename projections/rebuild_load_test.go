package projections_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// contentSums is a checksum of every table of every projection: the md5 of its rows'
// text in text order, so any changed, missing or extra row (not only a count) shows.
func contentSums(t *testing.T, pool *pgxpool.Pool, ps []projections.Projection) map[string]string {
	t.Helper()
	sums := map[string]string{}
	for _, p := range ps {
		for _, tb := range p.Tables() {
			var sum string
			var rows int
			require.NoError(t, pool.QueryRow(t.Context(), `SELECT md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), '')), count(*)
				FROM `+pgx.Identifier{tb.Name}.Sanitize()+` r`).Scan(&sum, &rows))
			sums[tb.Name] = fmt.Sprintf("%s (%d rows)", sum, rows)
		}
	}
	return sums
}

// startAndMaybeFinish starts run i through the gate and, for even i, claims and
// executes it, as runSome does, returning errors instead of failing (it runs on a
// goroutine of its own).
func (w *world) startAndMaybeFinish(ctx context.Context, i int, started *atomic.Int64) error {
	op := w.seed.Users["operator"]
	out, err := w.app.Operations.Start(ctx, operations.StartRequest{Type: "drift.generate", TenantID: w.seed.Tenants[i%3].ID,
		Context: []byte(fmt.Sprintf(`{"baseline":"load %d"}`, i)), Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}})
	if err != nil {
		return err
	}
	started.Add(1)
	if i%2 == 0 {
		run, err := w.app.Operations.Claim(ctx, operations.Job{RunID: out.Run.ID, Type: "drift.generate"}, "load")
		if err != nil {
			return err
		}
		if run != nil {
			w.app.Operations.Execute(ctx, run, "load")
		}
	}
	return nil
}

// TestRebuildUnderLoadEqualsFromZero rebuilds every projection blue/green while a
// writer keeps starting and finishing runs and the live runner and sealer keep going;
// each rebuild is made to take events that arrived between its bulk phase and its swap.
// Once the writer stops and the runner has caught up, the read models equal a from-zero
// rebuild of the same log by content checksum, table by table. The comparison can
// fail: one edited row changes the checksum.
func TestRebuildUnderLoadEqualsFromZero(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 6)
	ps := monolith.Projections()
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 4, PollInterval: 20 * time.Millisecond})

	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var bg sync.WaitGroup
	bg.Go(func() { _ = w.app.Store.RunSealer(ctx, 5*time.Millisecond) })
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- r.Run(ctx, ps...) }()

	// The writer: runs keep arriving until the rebuilds are done.
	// It stops at a flag between runs, not by a cancelled context: a start cancelled
	// after its commit would be a run the count below does not know of.
	var started atomic.Int64
	var stop atomic.Bool
	stopWriter := func() { stop.Store(true) }
	writerErr := make(chan error, 1)
	go func() {
		for i := 0; !stop.Load(); i++ {
			if err := w.startAndMaybeFinish(ctx, i, &started); err != nil {
				writerErr <- err
				return
			}
		}
		writerErr <- nil
	}()

	for _, p := range ps {
		pages := 0
		_, err := r.Rebuild(w.ctx, p, func(pr projections.RebuildProgress) {
			pages++
			// After a bulk page: let more runs land and be sealed past it before the
			// swap phase, which must then apply them to the shadow tables too.
			target := started.Load() + 3
			require.Eventually(t, func() bool {
				head, err := w.app.Store.Head(w.ctx)
				require.NoError(t, err)
				return started.Load() >= target && head > pr.Done
			}, 30*time.Second, 5*time.Millisecond)
		})
		require.NoError(t, err, p.Name())
		require.Positive(t, pages, p.Name())
	}
	stopWriter()
	require.NoError(t, <-writerErr)
	require.Greater(t, started.Load(), int64(3*len(ps)))

	// Everything sealed and every projection caught up.
	require.Eventually(t, func() bool {
		var unsealed int
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM es_events WHERE global_position IS NULL`).Scan(&unsealed))
		if unsealed > 0 {
			return false
		}
		st, err := r.Status(w.ctx, ps...)
		require.NoError(t, err)
		for _, s := range st {
			if s.Lag > 0 {
				return false
			}
		}
		return true
	}, 60*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-runnerDone)
	bg.Wait()
	rebuilt := contentSums(t, w.pool, ps)

	// From zero: empty every read model and its checkpoint, and apply the whole log.
	for _, p := range ps {
		for _, tb := range p.Tables() {
			_, err := w.pool.Exec(w.ctx, `TRUNCATE `+pgx.Identifier{tb.Name}.Sanitize())
			require.NoError(t, err)
		}
		_, err := w.pool.Exec(w.ctx, `DELETE FROM proj_checkpoints WHERE name = $1`, p.Name())
		require.NoError(t, err)
		_, err = projections.NewRunner(w.pool, w.app.Store, projections.Options{}).CatchUp(w.ctx, p)
		require.NoError(t, err)
	}
	fromZero := contentSums(t, w.pool, ps)
	require.Equal(t, fromZero, rebuilt)
	var runs int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs`).Scan(&runs))
	require.EqualValues(t, 6+started.Load(), runs, "every run the writer started is in the hub model")

	// The checksum sees a single edited row, not just the row count.
	hub := projections.HubRuns{}.Tables()[0].Name
	_, err := w.pool.Exec(w.ctx, `UPDATE `+hub+` SET outcome = 'failed' WHERE run_id = (SELECT run_id FROM `+hub+`
		WHERE outcome <> 'failed' ORDER BY run_id LIMIT 1)`)
	require.NoError(t, err)
	require.NotEqual(t, fromZero[hub], contentSums(t, w.pool, ps)[hub])
}

// TestTailReadsTheLogOnceForAllProjections: a runner advancing every projection from
// zero over the same log reads each new stretch of it once; the other projections get
// their batches from the tail in memory, and every read model still equals a rebuild of
// its own (the content check of TestRebuildUnderLoadEqualsFromZero runs through the
// same path under load).
func TestTailReadsTheLogOnceForAllProjections(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 8)
	ps := monolith.Projections()
	for _, p := range ps {
		for _, tb := range p.Tables() {
			_, err := w.pool.Exec(w.ctx, `TRUNCATE `+pgx.Identifier{tb.Name}.Sanitize())
			require.NoError(t, err)
		}
	}
	_, err := w.pool.Exec(w.ctx, `DELETE FROM proj_checkpoints`)
	require.NoError(t, err)
	head, err := w.app.Store.Head(w.ctx)
	require.NoError(t, err)

	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 5, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, ps...) }()
	require.Eventually(t, func() bool {
		st, err := r.Status(w.ctx, ps...)
		require.NoError(t, err)
		for _, s := range st {
			if s.Checkpoint < head {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	reads, served := projections.TailStats(r)
	t.Logf("%d projections, %d events: %d log reads, %d batches from memory", len(ps), head, reads, served)
	require.Positive(t, served, "the projections shared the tail")
	require.Less(t, reads, served, "fewer log reads than batches served from memory")

	got := contentSums(t, w.pool, ps)
	for _, p := range ps {
		_, err := projections.NewRunner(w.pool, w.app.Store, projections.Options{}).Rebuild(w.ctx, p, nil)
		require.NoError(t, err, p.Name())
	}
	require.Equal(t, contentSums(t, w.pool, ps), got, "every read model equals its rebuild")
}

// TestTailServesWhatTheLogSays: reads through the tail answer what ReadAll answers (the
// same events, in order, from any position inside it), from memory where it holds them,
// with one read of the log for what follows its end; a read at the end with nothing new
// is empty, and new events appear once sealed.
func TestTailServesWhatTheLogSays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 4)
	head, err := w.app.Store.Head(w.ctx)
	require.NoError(t, err)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	positions := func(envs []eventstore.Envelope) []int64 {
		out := make([]int64, len(envs))
		for i, e := range envs {
			out[i] = e.Position
		}
		return out
	}
	same := func(after int64, limit int) {
		t.Helper()
		want, err := w.app.Store.ReadAll(w.ctx, after, limit)
		require.NoError(t, err)
		got, err := projections.TailRead(w.ctx, r, after, limit)
		require.NoError(t, err)
		require.Equal(t, positions(want), positions(got), "after %d, limit %d", after, limit)
	}
	same(0, 5) // the first read: the log, up to 1,000 events
	reads, _ := projections.TailStats(r)
	require.EqualValues(t, 1, reads)
	for _, after := range []int64{0, 3, head - 2} {
		same(after, 5)
	}
	reads, served := projections.TailStats(r)
	require.EqualValues(t, 1, reads, "inside the tail: from memory")
	require.EqualValues(t, 4, served)

	got, err := projections.TailRead(w.ctx, r, head, 5)
	require.NoError(t, err)
	require.Empty(t, got, "nothing past the head")
	reads, _ = projections.TailStats(r)
	require.EqualValues(t, 2, reads, "the end: one read of the log")

	w.runSome(t, 2)
	same(head, 1000)
	same(head-1, 3)
}

// TestTailDropsWhatItCannotHold: a tail that holds few events, read at its end as a live
// runner reads it while the log grows, keeps only the newest (it drops the oldest), and
// still serves what the log says from anywhere: inside it from memory, behind it from
// the log.
func TestTailDropsWhatItCannotHold(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	projections.HoldInTail(r, 8)
	var at int64
	for range 4 {
		w.runSome(t, 2)
		for {
			got, err := projections.TailRead(w.ctx, r, at, 3)
			require.NoError(t, err)
			if len(got) == 0 {
				break
			}
			want, err := w.app.Store.ReadAll(w.ctx, at, 3)
			require.NoError(t, err)
			require.Equal(t, want, got, "after %d", at)
			at = got[len(got)-1].Position
		}
	}
	head, err := w.app.Store.Head(w.ctx)
	require.NoError(t, err)
	require.Equal(t, head, at, "the walk reached the head")
	require.Greater(t, head, int64(8), "more events than the tail holds")
	for _, after := range []int64{0, 1, head - 8, head - 3, head - 1} {
		want, err := w.app.Store.ReadAll(w.ctx, after, 5)
		require.NoError(t, err)
		_, servedBefore := projections.TailStats(r)
		got, err := projections.TailRead(w.ctx, r, after, 5)
		require.NoError(t, err)
		require.Equal(t, want, got, "after %d", after)
		_, served := projections.TailStats(r)
		if after >= head-8 {
			require.Equal(t, servedBefore+1, served, "after %d: held, from memory", after)
		} else {
			require.Equal(t, servedBefore, served, "after %d: dropped, from the log", after)
		}
	}
}
