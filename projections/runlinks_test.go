package projections_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// TestRunLinks projects RunLinked events: an object's runs come newest link first, a
// run linking it twice once, only the object's tenant's runs and only for a caller who
// may view that tenant; Since leaves out older links; rebuilt from zero, the same rows.
func TestRunLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 6) // tenants 0,1,2,0,1,2
	object, other := uuid.New(), uuid.New()
	link := func(run uuid.UUID, kind operations.LinkKind, id uuid.UUID) {
		t.Helper()
		_, err := w.app.Store.Append(w.ctx, operations.RunStream(run), eventstore.AnyVersion, eventstore.NewEvent{
			Data: operations.RunLinked{Kind: kind, ID: id}, Metadata: eventstore.Metadata{Actor: "test"}})
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond) // distinct recorded_at, so the order is the links'
	}
	link(ids[0], operations.LinkBackupSet, object)
	link(ids[3], operations.LinkBackupSet, object)
	link(ids[0], operations.LinkBackupSet, object) // again: still one row, its first time
	link(ids[1], operations.LinkBackupSet, object) // another tenant's run: never listed for tenant 0
	link(ids[3], operations.LinkInventorySnapshot, object)
	link(ids[0], operations.LinkBackupSet, other)

	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 3})
	reader := projections.NewRunReader(w.pool)
	var all []uuid.UUID
	for _, tn := range w.seed.Tenants {
		all = append(all, tn.ID)
	}
	tenant := w.seed.Tenants[0].ID
	f := projections.LinkedFilter{TenantIDs: all, Tenant: tenant, Objects: []operations.RunLinked{{Kind: operations.LinkBackupSet, ID: object}}}
	runIDs := func(f projections.LinkedFilter) []uuid.UUID {
		t.Helper()
		runs, err := reader.LinkedRuns(w.ctx, f)
		require.NoError(t, err)
		out := []uuid.UUID{}
		for _, s := range runs {
			require.Equal(t, tenant, *s.TenantID)
			out = append(out, s.ID)
		}
		return out
	}
	require.Eventually(t, func() bool {
		for _, p := range []projections.Projection{projections.HubRuns{}, projections.RunLinks{}} {
			_, err := r.CatchUp(w.ctx, p)
			require.NoError(t, err)
		}
		return len(runIDs(f)) == 2
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, []uuid.UUID{ids[3], ids[0]}, runIDs(f), "newest link first, once per run, the tenant's runs only")

	var firstLinked time.Time
	require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT linked_at FROM rm_run_links WHERE run_id = $1 AND kind = 'backup_set' AND object_id = $2`,
		ids[0], object).Scan(&firstLinked))
	since := f
	since.Since = firstLinked.Add(time.Microsecond)
	require.Equal(t, []uuid.UUID{ids[3]}, runIDs(since), "links before Since are left out")

	both := f
	both.Objects = append(both.Objects, operations.RunLinked{Kind: operations.LinkInventorySnapshot, ID: object})
	require.Equal(t, []uuid.UUID{ids[3], ids[0]}, runIDs(both), "a run linking several of the objects is listed once, at its newest link")

	outsider := f
	outsider.TenantIDs = []uuid.UUID{w.seed.Tenants[1].ID}
	require.Empty(t, runIDs(outsider), "a caller who may not view the tenant sees none")

	require.Eventually(t, func() bool { // every link applied, not only those asked for above
		_, err := r.CatchUp(w.ctx, projections.RunLinks{})
		require.NoError(t, err)
		var rows int
		require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM rm_run_links_v1`).Scan(&rows))
		return rows == 5
	}, 30*time.Second, 20*time.Millisecond)
	before := tableSum(t, w.pool, "rm_run_links_v1", "kind, object_id, run_id")
	_, err := r.Rebuild(w.ctx, projections.RunLinks{}, nil)
	require.NoError(t, err)
	require.Equal(t, before, tableSum(t, w.pool, "rm_run_links_v1", "kind, object_id, run_id"), "rebuilt from zero, the same read model")
}
