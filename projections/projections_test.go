package projections_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error { return monolith.Migrate(ctx, pool) })
	pgtest.Main(m)
}

type world struct {
	ctx  context.Context
	pool *pgxpool.Pool
	app  *monolith.App
	seed monolith.DemoSeed
}

// newWorld is a seeded system on a database of the test's own, with a handler for
// drift.generate that reports progress and one failure.
func newWorld(t *testing.T) *world {
	t.Helper()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost,
		Operations: operations.Options{FlushEvery: 3, FlushInterval: time.Hour}})
	seed, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	a.Operations.Handle("drift.generate", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		for range 7 {
			if err := rep.Progress(ctx, operations.Counts{"processed": 1, "created": 2}); err != nil {
				return "", err
			}
		}
		return operations.OutcomeSucceeded, rep.Fail(ctx, failure.ItemFailed, "one finding could not be compared")
	})
	return &world{ctx: t.Context(), pool: pool, app: a, seed: seed}
}

// runSome starts n runs (half of them executed to the end by a worker in-process) and
// returns their ids.
func (w *world) runSome(t *testing.T, n int) []uuid.UUID {
	t.Helper()
	op := w.seed.Users["operator"]
	var ids []uuid.UUID
	for i := range n {
		out, err := w.app.Operations.Start(w.ctx, operations.StartRequest{Type: "drift.generate", TenantID: w.seed.Tenants[i%3].ID,
			Context: []byte(fmt.Sprintf(`{"baseline":"n%d"}`, i)), Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}})
		require.NoError(t, err)
		ids = append(ids, out.Run.ID)
		if i%2 == 0 {
			run, err := w.app.Operations.Claim(w.ctx, operations.Job{RunID: out.Run.ID, Type: "drift.generate"}, "test")
			require.NoError(t, err)
			w.app.Operations.Execute(w.ctx, run, "test")
		}
	}
	// Wait until the sealer would have positioned everything.
	require.Eventually(t, func() bool {
		_, err := w.app.Store.Seal(w.ctx)
		require.NoError(t, err)
		var unsealed int
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM es_events WHERE global_position IS NULL`).Scan(&unsealed))
		return unsealed == 0
	}, 30*time.Second, 10*time.Millisecond)
	return ids
}

func checksum(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var sum string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT md5(COALESCE(string_agg(r::text, '|' ORDER BY run_id), ''))
		FROM rm_runs_v2 r`).Scan(&sum))
	return sum
}

// rebuildFromZero empties the read model and its checkpoint and applies the whole log.
func rebuildFromZero(t *testing.T, w *world, r *projections.Runner) {
	t.Helper()
	_, err := w.pool.Exec(w.ctx, `TRUNCATE rm_runs_v2; DELETE FROM proj_checkpoints WHERE name = 'hub_runs'`)
	require.NoError(t, err)
	_, err = r.CatchUp(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
}

func TestHubRunsMatchesTheAggregate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 6)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 7})
	n, err := r.CatchUp(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	require.Positive(t, n)
	for _, id := range ids {
		run, err := w.app.Operations.Load(w.ctx, id)
		require.NoError(t, err)
		var status, outcome, bucket string
		var counts map[string]int64
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT status, outcome, bucket, counts FROM rm_runs WHERE run_id = $1`, id).
			Scan(&status, &outcome, &bucket, &counts))
		require.Equal(t, string(run.Status), status)
		require.Equal(t, string(run.Outcome), outcome)
		require.Equal(t, string(run.Bucket()), bucket)
		require.Equal(t, map[string]int64(run.Counts), counts)
	}
	var partial int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs WHERE bucket = 'partially_succeeded'`).Scan(&partial))
	require.Equal(t, 3, partial)
	pos, err := r.Checkpoint(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	head, err := w.app.Store.Head(w.ctx)
	require.NoError(t, err)
	require.Equal(t, head, pos)

	// A list without counts is the same list, each run's Counts left nil.
	f := projections.RunFilter{TenantIDs: []uuid.UUID{w.seed.Tenants[0].ID, w.seed.Tenants[1].ID, w.seed.Tenants[2].ID}}
	with, _, err := projections.NewRunReader(w.pool).List(w.ctx, f)
	require.NoError(t, err)
	f.WithoutCounts = true
	without, _, err := projections.NewRunReader(w.pool).List(w.ctx, f)
	require.NoError(t, err)
	require.Len(t, without, len(ids))
	require.Len(t, with, len(ids))
	counted := 0
	for i := range with {
		require.NotNil(t, with[i].Counts, "run %s", with[i].ID)
		if len(with[i].Counts) > 0 {
			counted++
		}
		require.Nil(t, without[i].Counts)
		without[i].Counts = with[i].Counts
	}
	require.Equal(t, len(ids)/2, counted, "the runs executed have counts")
	require.Equal(t, with, without)

	// Across the workspace: walked with no visibility predicate (WholeWorkspaces), the
	// list is the one the visibility predicate gives a caller who sees every tenant; for
	// one who sees fewer, the predicate is what keeps the others out.
	reader := projections.NewRunReader(w.pool)
	ws := projections.RunFilter{TenantIDs: f.TenantIDs, WorkspaceIDs: []uuid.UUID{w.seed.Workspace}, Workspaces: []uuid.UUID{w.seed.Workspace}}
	predicate, _, err := reader.List(w.ctx, ws)
	require.NoError(t, err)
	ws.SetWholeWorkspaces([]uuid.UUID{w.seed.Workspace})
	require.True(t, ws.WholeWorkspaces)
	walked, _, err := reader.List(w.ctx, ws)
	require.NoError(t, err)
	require.Len(t, walked, len(ids))
	require.Equal(t, predicate, walked)
	some := ws
	some.TenantIDs, some.WholeWorkspaces = f.TenantIDs[:1], false
	fewer, _, err := reader.List(w.ctx, some)
	require.NoError(t, err)
	require.Less(t, len(fewer), len(walked), "the runs of the other tenants are kept out")
	for _, r := range fewer {
		require.Equal(t, f.TenantIDs[0], *r.TenantID)
	}
	some.SetWholeWorkspaces(nil)
	require.False(t, some.WholeWorkspaces, "a workspace not whole keeps the predicate")
	some.Workspaces = append(some.Workspaces, uuid.New())
	some.SetWholeWorkspaces([]uuid.UUID{w.seed.Workspace})
	require.False(t, some.WholeWorkspaces, "every workspace must be whole")
}

// crashing fails its batch after applying part of it, as a process killed mid-batch
// would: the transaction never commits.
type crashing struct {
	projections.HubRuns
	after int
	once  *sync.Once
}

func (c crashing) Apply(ctx context.Context, tx pgx.Tx, target projections.Target, events []eventstore.Envelope) error {
	crash := false
	c.once.Do(func() { crash = true })
	if crash {
		if err := c.HubRuns.Apply(ctx, tx, target, events[:min(c.after, len(events))]); err != nil {
			return err
		}
		return errors.New("killed mid-batch")
	}
	return c.HubRuns.Apply(ctx, tx, target, events)
}

// TestCrashMidBatchThenResume kills the runner in the middle of a batch (its writes
// and checkpoint abandoned with the transaction), restarts it, and compares the read
// model with a from-zero rebuild by checksum.
func TestCrashMidBatchThenResume(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 8)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 10})
	_, err := r.Step(w.ctx, projections.HubRuns{}) // one good batch
	require.NoError(t, err)
	before, err := r.Checkpoint(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	_, err = r.Step(w.ctx, crashing{after: 4, once: &sync.Once{}})
	require.ErrorContains(t, err, "killed mid-batch")
	after, err := r.Checkpoint(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	require.Equal(t, before, after, "the crashed batch moved nothing")

	// A cancelled context mid-catch-up is the other way to die.
	ctx, cancel := context.WithCancel(w.ctx)
	cancel()
	_, err = r.CatchUp(ctx, projections.HubRuns{})
	require.Error(t, err)

	_, err = r.CatchUp(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	resumed := checksum(t, w.pool)
	rebuildFromZero(t, w, r)
	require.Equal(t, checksum(t, w.pool), resumed)
}

// TestConcurrentRunnersApplyOnce steps the projection from four goroutines at once:
// the checkpoint compare-and-set lets each batch commit once, so counts are not doubled.
func TestConcurrentRunnersApplyOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 6)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 3})
			_, err := r.CatchUp(w.ctx, projections.HubRuns{})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	concurrent := checksum(t, w.pool)
	rebuildFromZero(t, w, projections.NewRunner(w.pool, w.app.Store, projections.Options{}))
	require.Equal(t, checksum(t, w.pool), concurrent)
}

// TestRunnerWakesOnNotify runs the runner with a one-minute poll: a run started while it
// idles appears in the read model within seconds, woken by the sealer's NOTIFY.
func TestRunnerWakesOnNotify(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{PollInterval: time.Minute})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, projections.HubRuns{}) }()
	go func() { _ = w.app.Store.RunSealer(ctx, 10*time.Millisecond) }()
	time.Sleep(300 * time.Millisecond) // let it go idle
	ids := w.runSome(t, 1)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs WHERE run_id = $1`, ids[0]).Scan(&n))
		return n == 1
	}, 20*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return string(s.b) }

// TestRunnerPollsWithoutNotify uses a short poll and no sealer: the runner's own
// ReadAll seals on demand, so it catches up by polling alone, and idle timeouts on the
// LISTEN connection do not make it restart.
func TestRunnerPollsWithoutNotify(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var logs syncBuf
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{PollInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, projections.HubRuns{}) }()
	time.Sleep(400 * time.Millisecond) // several idle timeouts
	ids := w.runSome(t, 2)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs WHERE run_id = ANY($1)`, ids).Scan(&n))
		return n == 2
	}, 20*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.NotContains(t, logs.String(), "restarting", logs.String())
	require.Equal(t, 1, strings.Count(logs.String(), "projection leading"), "one leader, kept")
}

// TestRebuildSwapsAtomically rebuilds the hub model while a reader queries it without
// pause and the live runner keeps advancing it: every read succeeds and sees a complete
// model, and after the swap the model equals a from-zero rebuild at the head.
func TestRebuildSwapsAtomically(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 10)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 2, PollInterval: 20 * time.Millisecond})
	_, err := r.CatchUp(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	want := checksum(t, w.pool)

	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var reads, failures int
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for ctx.Err() == nil {
			var n int
			if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM rm_runs`).Scan(&n); err != nil {
				if ctx.Err() == nil {
					failures++
				}
				continue
			}
			reads++
			if n != 10 {
				failures++
			}
		}
	}()
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- r.Run(ctx, projections.HubRuns{}) }()

	var last projections.RebuildProgress
	res, err := r.Rebuild(w.ctx, projections.HubRuns{}, func(p projections.RebuildProgress) { last = p })
	require.NoError(t, err)
	require.Positive(t, res.Events)
	require.Equal(t, res.Events, last.Done)
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-readerDone
	require.NoError(t, <-runnerDone)
	require.Positive(t, reads)
	require.Zero(t, failures, "reads during the rebuild and the swap always saw the whole model")
	require.Equal(t, want, checksum(t, w.pool))
	st, err := r.Status(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	require.Zero(t, st[0].Lag)
	var leftovers int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'rm_runs_v2_next'`).Scan(&leftovers))
	require.Zero(t, leftovers)
}

// hubRunsV3 stands for a new build whose hub model changed: version 3, own table.
type hubRunsV3 struct{ projections.HubRuns }

func (hubRunsV3) Version() int { return 3 }

func (h hubRunsV3) Tables() []projections.Table {
	return []projections.Table{{Name: "rm_runs_v3", View: "rm_runs"}}
}

func (h hubRunsV3) Apply(ctx context.Context, tx pgx.Tx, target projections.Target, events []eventstore.Envelope) error {
	// Same folding, other table: delegate through a target-renaming shim.
	return h.HubRuns.ApplyTo(ctx, tx, target.Table("rm_runs_v3"), events)
}

// TestVersionBumpRebuildsThenSwaps runs the runner with a version 3 of the hub model:
// it is built from position 0 while the view still serves version 2, then swapped in
// and recorded as active.
func TestVersionBumpRebuildsThenSwaps(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 4)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{PollInterval: 20 * time.Millisecond})
	_, err := r.CatchUp(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	// What a migration of the new build would do: the new version's table, empty.
	_, err = w.pool.Exec(w.ctx, `CREATE TABLE rm_runs_v3 (LIKE rm_runs_v2 INCLUDING ALL)`)
	require.NoError(t, err)

	st, err := r.Status(w.ctx, hubRunsV3{})
	require.NoError(t, err)
	require.True(t, st[0].Rebuilding, "version 2 serves until version 3 is swapped in")

	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, hubRunsV3{}) }()
	require.Eventually(t, func() bool {
		v, err := r.ActiveVersion(w.ctx, hubRunsV3{})
		require.NoError(t, err)
		return v == 3
	}, 20*time.Second, 20*time.Millisecond)
	var table string
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT table_name FROM information_schema.view_table_usage WHERE view_name = 'rm_runs'`).Scan(&table))
	require.Equal(t, "rm_runs_v3", table, "the view serves the new version")
	st, err = r.Status(w.ctx, hubRunsV3{})
	require.NoError(t, err)
	require.False(t, st[0].Rebuilding)
	var n int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs`).Scan(&n))
	require.Equal(t, 4, n)
	cancel()
	require.NoError(t, <-done)
}

// tableSum is a checksum of a whole table in a fixed order.
func tableSum(t *testing.T, pool *pgxpool.Pool, table, order string) string {
	t.Helper()
	var sum string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT md5(COALESCE(string_agg(r::text, '|' ORDER BY `+order+`), '')) FROM `+table+` r`).Scan(&sum))
	return sum
}

// TestTimelineAndScopeCounts projects runs into the timeline and the dashboard counts,
// checks them against the log and the hub model, then rebuilds both and compares.
func TestTimelineAndScopeCounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 9)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 5})
	for _, p := range []projections.Projection{projections.HubRuns{}, projections.RunTimeline{}, projections.ScopeCounts{}} {
		_, err := r.CatchUp(w.ctx, p)
		require.NoError(t, err)
	}
	var events, rows int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM es_events WHERE stream_type = 'run'`).Scan(&events))
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_run_timeline`).Scan(&rows))
	require.Equal(t, events, rows, "one timeline row per run event")
	reader := projections.NewRunReader(w.pool)
	tl, err := reader.Timeline(w.ctx, ids[0])
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tl[0].Summary, "Queued by "), tl[0].Summary)
	require.Equal(t, "RunQueued", tl[0].Type)
	require.Contains(t, tl[len(tl)-1].Summary, "Initiator notified")

	// The counts agree with the hub model, tenant by tenant and bucket by bucket.
	var mismatches int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM (
		SELECT tenant_id AS scope_id, bucket, count(*) AS runs FROM rm_runs GROUP BY 1, 2
		EXCEPT SELECT scope_id, bucket, runs FROM rm_scope_counts WHERE runs <> 0) d`).Scan(&mismatches))
	require.Zero(t, mismatches)
	var tenants []uuid.UUID
	for _, tn := range w.seed.Tenants {
		tenants = append(tenants, tn.ID)
	}
	counts, err := reader.Counts(w.ctx, tenants)
	require.NoError(t, err)
	total := int64(0)
	for _, c := range counts {
		for _, n := range c.Buckets {
			total += n
		}
	}
	require.EqualValues(t, 9, total)

	// The overview's windows (version 2) hold every run once, by queued hour, and the
	// finished-per-hour rows every terminal run once.
	windows, err := reader.Window(w.ctx, tenants, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	total = 0
	for _, sw := range windows {
		for _, n := range sw.Columns {
			total += n
		}
	}
	require.EqualValues(t, 9, total, "the last 24 h's columns count every run")
	var terminal int64
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs WHERE status = 'completed'`).Scan(&terminal))
	spark, err := reader.Throughput(w.ctx, tenants, time.Now().Add(-24*time.Hour), time.Now())
	require.NoError(t, err)
	require.Len(t, spark, 25, "one point per hour, the current one included")
	finished := int64(0)
	for _, n := range spark {
		finished += n
	}
	require.Equal(t, terminal, finished, "every finished run counted once, in the hour it ended")
	var queued int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs WHERE bucket = 'queued'`).Scan(&queued))
	oldest, err := reader.OldestQueued(w.ctx, tenants)
	require.NoError(t, err)
	require.Equal(t, queued > 0, !oldest.IsZero())

	v2 := func() string {
		return tableSum(t, w.pool, "rm_run_timeline_v1", "run_id, stream_version") + tableSum(t, w.pool, "rm_scope_counts_v2", "scope_id, bucket") +
			tableSum(t, w.pool, "rm_scope_counts_runs_v2", "run_id") + tableSum(t, w.pool, "rm_scope_hours_v2", "scope_id, hour, col") +
			tableSum(t, w.pool, "rm_scope_finished_v2", "scope_id, hour")
	}
	before := v2()
	for _, p := range []projections.Projection{projections.RunTimeline{}, projections.ScopeCounts{}} {
		_, err := r.Rebuild(w.ctx, p, nil)
		require.NoError(t, err)
	}
	after := v2()
	require.Equal(t, before, after, "rebuilt from zero, the same read models")
}

// TestLegacyRunMappings appends the two legacy events by hand (the importer arrives
// later) and checks the mapping read model and its lookup.
func TestLegacyRunMappings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	imported, linked := uuid.New(), uuid.New()
	meta := eventstore.Metadata{Actor: "system:legacy-import"}
	_, err := w.app.Store.Append(w.ctx, operations.RunStream(imported), eventstore.NoStream, eventstore.NewEvent{
		Data: operations.LegacyRunImported{Table: "inventory_sync_runs", LegacyID: 41, Type: "inventory.sync",
			WorkspaceID: w.seed.Workspace, TenantID: w.seed.Tenants[0].ID, Status: operations.StatusCompleted,
			Outcome: operations.OutcomeSucceeded, Counts: operations.Counts{"items": 12}}, Metadata: meta})
	require.NoError(t, err)
	_, err = w.app.Store.Append(w.ctx, operations.RunStream(linked), eventstore.AnyVersion, eventstore.NewEvent{
		Data: operations.LegacyRunLinked{Table: "backup_schedule_runs", LegacyID: 7}, Metadata: meta})
	require.NoError(t, err)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	reader := projections.NewRunReader(w.pool)
	require.Eventually(t, func() bool {
		_, err := r.CatchUp(w.ctx, projections.LegacyRuns{})
		require.NoError(t, err)
		_, err = reader.LegacyRun(w.ctx, "backup_schedule_runs", 7)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	got, err := reader.LegacyRun(w.ctx, "inventory_sync_runs", 41)
	require.NoError(t, err)
	require.Equal(t, imported, got)
	got, err = reader.LegacyRun(w.ctx, "backup_schedule_runs", 7)
	require.NoError(t, err)
	require.Equal(t, linked, got)
	_, err = reader.LegacyRun(w.ctx, "entra_group_sync_runs", 1)
	require.ErrorIs(t, err, projections.ErrNoMapping)
}

// TestNotificationsInbox projects the runs' NotificationSent events into the inbox: one
// row per event, in batches smaller than a run's stream, the same again after a
// rebuild, and notify.Service.List reads it newest first.
func TestNotificationsInbox(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.runSome(t, 6)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 3})
	_, err := r.CatchUp(w.ctx, projections.Notifications{})
	require.NoError(t, err)
	var events, rows int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'NotificationSent'`).Scan(&events))
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_notifications`).Scan(&rows))
	require.Positive(t, events)
	require.Equal(t, events, rows, "one inbox row per notification")

	var user uuid.UUID
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT user_id FROM rm_notifications GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(&user))
	notes, err := w.app.Runs.Notifications(w.ctx, user, 50)
	require.NoError(t, err)
	require.NotEmpty(t, notes)
	for i := 1; i < len(notes); i++ {
		require.False(t, notes[i].CreatedAt.After(notes[i-1].CreatedAt), "newest first")
	}

	before := tableSum(t, w.pool, "rm_notifications_v1", "id")
	_, err = r.Rebuild(w.ctx, projections.Notifications{}, nil)
	require.NoError(t, err)
	require.Equal(t, before, tableSum(t, w.pool, "rm_notifications_v1", "id"))
}

// TestSummarizeLinked: a run's link to what it wrote reads as the object's kind.
func TestSummarizeLinked(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	got := projections.Summarize(eventstore.Envelope{Type: "RunLinked", Data: operations.RunLinked{Kind: operations.LinkBackupSet, ID: id}})
	require.Equal(t, "Linked: Backup set "+id.String(), got)
}

// TestHubRunsV2Upgrade runs migration 004 on a database whose hub_runs version 1 holds
// runs (as a database from before it would): version 1 keeps serving through a view
// that also offers the counts column, until EnsureVersion (what serve's leader does) has
// built version 2 from the log and swapped it in.
func TestHubRunsV2Upgrade(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 4)
	// Back to the projections schema of migrations 001–003.
	err := dropProjectionSchema(w)
	require.NoError(t, err)
	upTo3 := fstest.MapFS{}
	for _, name := range []string{"001_projections.sql", "002_timeline_counts.sql", "003_legacy_runs.sql"} {
		b, err := fs.ReadFile(projections.Migrations().FS, name)
		require.NoError(t, err)
		upTo3[name] = &fstest.MapFile{Data: b}
	}
	require.NoError(t, pgmigrate.Apply(w.ctx, w.pool, pgmigrate.Set{Name: "projections", FS: upTo3}))
	for i, id := range ids { // what version 1 had projected
		_, err := w.pool.Exec(w.ctx, `INSERT INTO rm_runs_v1 (run_id, type, workspace_id, tenant_id, status, outcome, bucket, initiator_name,
			queued_at, snapshot, position) VALUES ($1, 'drift.generate', $2, $3, 'queued', 'pending', 'queued', 'x', now(), '{"Counts":{"total":1}}', 1)`,
			id, w.seed.Workspace, w.seed.Tenants[i%3].ID)
		require.NoError(t, err)
	}

	require.NoError(t, pgmigrate.Apply(w.ctx, w.pool, projections.Migrations()))
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	active, err := r.ActiveVersion(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	require.Equal(t, 1, active, "version 1 serves until version 2 is built")
	var n, withCounts int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*), count(counts) FROM rm_runs`).Scan(&n, &withCounts))
	require.Equal(t, 4, n)
	require.Equal(t, 4, withCounts, "the view offers version 2's counts column")
	list, _, err := w.app.Runs.List(w.ctx, projections.RunFilter{TenantIDs: tenantIDs(w), Limit: 10})
	require.NoError(t, err, "the list query of version 2 reads version 1")
	require.Len(t, list, 4)

	require.NoError(t, r.EnsureVersion(w.ctx, projections.HubRuns{}))
	active, err = r.ActiveVersion(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	require.Equal(t, 2, active)
	var table string
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT table_name FROM information_schema.view_table_usage WHERE view_name = 'rm_runs'`).Scan(&table))
	require.Equal(t, "rm_runs_v2", table)
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_runs`).Scan(&n))
	require.Equal(t, 4, n, "version 2 was built from the log")
}

func tenantIDs(w *world) []uuid.UUID {
	var ids []uuid.UUID
	for _, tn := range w.seed.Tenants {
		ids = append(ids, tn.ID)
	}
	return ids
}

// TestLegacyRunsV2Upgrade runs migration 008 on a database whose legacy_runs version 1
// holds mappings (as a database from before it would): version 1 keeps serving the
// redirects through a view that offers version 2's columns, until EnsureVersion has built
// version 2 from the log, which then also holds the row kept as history only.
func TestLegacyRunsV2Upgrade(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tenant := w.seed.Tenants[0].ID
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	res, err := w.app.Legacy.Import(w.ctx, legacy.Row{Table: "inventory_sync_runs", ID: 1, TenantID: tenant,
		Status: "completed", StartedAt: at, FinishedAt: at.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, legacy.Imported, res)
	missing := uuid.New()
	res, err = w.app.Legacy.Import(w.ctx, legacy.Row{Table: "inventory_sync_runs", ID: 2, TenantID: tenant,
		Status: "failed", StartedAt: at, Counts: map[string]int64{"total": 2}, OperationRunID: &missing})
	require.NoError(t, err)
	require.Equal(t, legacy.Recorded, res)
	// The rebuild below reads the sealed log: another test's open transaction may hold
	// the seal horizon back for a moment, so seal what is committed first.
	require.NoError(t, w.app.Store.SealCommitted(w.ctx))

	// Back to the projections schema of migrations 001–007, version 1 holding row 1.
	err = dropProjectionSchema(w)
	require.NoError(t, err)
	upTo7 := fstest.MapFS{}
	entries, err := fs.ReadDir(projections.Migrations().FS, ".")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() < "008" {
			b, err := fs.ReadFile(projections.Migrations().FS, e.Name())
			require.NoError(t, err)
			upTo7[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	require.Len(t, upTo7, 7)
	require.NoError(t, pgmigrate.Apply(w.ctx, w.pool, pgmigrate.Set{Name: "projections", FS: upTo7}))
	_, err = w.pool.Exec(w.ctx, `INSERT INTO rm_legacy_runs_v1 (legacy_table, legacy_id, operation_run_id, imported, recorded_at)
		VALUES ('inventory_sync_runs', 1, $1, true, now())`, legacy.RunID("inventory_sync_runs", 1))
	require.NoError(t, err)

	require.NoError(t, pgmigrate.Apply(w.ctx, w.pool, projections.Migrations()))
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	active, err := r.ActiveVersion(w.ctx, projections.LegacyRuns{})
	require.NoError(t, err)
	require.Equal(t, 1, active, "version 1 serves until version 2 is built")
	run, err := w.app.Runs.LegacyRun(w.ctx, "inventory_sync_runs", 1)
	require.NoError(t, err, "the redirect's query reads version 1")
	require.Equal(t, legacy.RunID("inventory_sync_runs", 1), run)
	_, err = w.app.Runs.LegacyHistoryRow(w.ctx, "inventory_sync_runs", 2)
	require.ErrorIs(t, err, projections.ErrNoMapping, "version 1 knows no history rows")

	require.NoError(t, r.EnsureVersion(w.ctx, projections.LegacyRuns{}))
	active, err = r.ActiveVersion(w.ctx, projections.LegacyRuns{})
	require.NoError(t, err)
	require.Equal(t, 2, active)
	run, err = w.app.Runs.LegacyRun(w.ctx, "inventory_sync_runs", 1)
	require.NoError(t, err)
	require.Equal(t, legacy.RunID("inventory_sync_runs", 1), run)
	hist, err := w.app.Runs.LegacyHistoryRow(w.ctx, "inventory_sync_runs", 2)
	require.NoError(t, err, "version 2 was built from the log")
	require.Equal(t, tenant, hist.TenantID)
	require.Equal(t, missing, hist.ClaimedRunID)
	require.Equal(t, map[string]int64{"total": 2}, hist.Counts)
	require.Nil(t, hist.FinishedAt)
}

// TestScopeCountsV2Upgrade: a database whose scope_counts version 1 holds runs keeps
// serving it after migration 011, until EnsureVersion (what serve's leader does) has
// built version 2 — with its hourly tables — from the log and swapped it in.
func TestScopeCountsV2Upgrade(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 4)
	err := dropProjectionSchema(w)
	require.NoError(t, err)
	upTo6 := fstest.MapFS{}
	entries, err := fs.ReadDir(projections.Migrations().FS, ".")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() < "011" {
			b, err := fs.ReadFile(projections.Migrations().FS, e.Name())
			require.NoError(t, err)
			upTo6[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	require.NoError(t, pgmigrate.Apply(w.ctx, w.pool, pgmigrate.Set{Name: "projections", FS: upTo6}))
	for i, id := range ids { // what version 1 had projected
		_, err := w.pool.Exec(w.ctx, `INSERT INTO rm_scope_counts_runs_v1 (run_id, scope_id, state) VALUES ($1, $2, '{"s":"queued","o":"pending"}')`,
			id, w.seed.Tenants[i%3].ID)
		require.NoError(t, err)
	}
	require.NoError(t, pgmigrate.Apply(w.ctx, w.pool, projections.Migrations()))
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	active, err := r.ActiveVersion(w.ctx, projections.ScopeCounts{})
	require.NoError(t, err)
	require.Equal(t, 1, active, "version 1 serves until version 2 is built")
	var n int
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_scope_counts_runs`).Scan(&n))
	require.Equal(t, 4, n)

	require.NoError(t, r.EnsureVersion(w.ctx, projections.ScopeCounts{}))
	active, err = r.ActiveVersion(w.ctx, projections.ScopeCounts{})
	require.NoError(t, err)
	require.Equal(t, 2, active)
	for view, table := range map[string]string{"rm_scope_counts": "rm_scope_counts_v2", "rm_scope_hours": "rm_scope_hours_v2", "rm_scope_finished": "rm_scope_finished_v2"} {
		var got string
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT table_name FROM information_schema.view_table_usage WHERE view_name = $1`, view).Scan(&got))
		require.Equal(t, table, got)
	}
	var hours int64
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT COALESCE(sum(runs), 0) FROM rm_scope_hours`).Scan(&hours))
	require.EqualValues(t, 4, hours, "version 2 was built from the log")
}

// dropProjectionSchema drops every table the projections migrations made (the read
// models, the runner's tables, the version table), so an upgrade test can apply the
// migrations again up to a point and seed an older version's rows.
func dropProjectionSchema(w *world) error {
	rows, err := w.pool.Query(w.ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
		AND (tablename LIKE 'rm\_%' OR tablename IN ('proj_checkpoints', 'proj_active', 'schema_version_projections', 'inbox_reads'))`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for i, n := range names {
		names[i] = pgx.Identifier{n}.Sanitize()
	}
	_, err = w.pool.Exec(w.ctx, `DROP TABLE `+strings.Join(names, ", ")+` CASCADE`)
	return err
}
