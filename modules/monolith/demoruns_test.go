package monolith_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/graph/msgraph"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error { return monolith.Migrate(ctx, pool) })
	pgtest.Main(m)
}

// TestSeedDemoRuns: the demo's runs are real runs through the gate, all succeeded, each
// with the object it produced (snapshot, drift report with findings after the
// simulator's change, backup sets), one demo schedule per tenant; a second call makes
// nothing, and an app without the demo Graph is refused.
func TestSeedDemoRuns(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	ctx := t.Context()
	sim := graphsim.New(graphsim.Config{Seed: 1})
	client := msgraph.New(msgraph.Options{HTTPClient: &http.Client{Transport: graphsim.Router{Host: monolith.DemoGraphHost, Sim: sim}},
		Getenv: func(name string) string {
			if name == monolith.DemoSecretEnv {
				return graphsim.DefaultClientSecret
			}
			return ""
		}})
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost, Graph: client, DemoGraph: true})
	seed, err := monolith.SeedDemo(ctx, a)
	require.NoError(t, err)

	_, err = monolith.SeedDemoRuns(ctx, monolith.New(pool, monolith.Options{}), seed, sim)
	require.Error(t, err, "without the demo Graph nothing runs")

	res, err := monolith.SeedDemoRuns(ctx, a, seed, sim)
	require.NoError(t, err)
	require.Equal(t, 3, res.Tenants)
	require.Len(t, res.Runs, 39)
	linked := map[operations.LinkKind]int{}
	for _, id := range res.Runs {
		run, err := a.Operations.Load(ctx, id)
		require.NoError(t, err)
		require.Equal(t, operations.OutcomeSucceeded, run.Outcome, "%s: %s", run.Type, run.Message)
		require.NotEmpty(t, run.Links, "%s links its object", run.Type)
		for _, l := range run.Links {
			linked[l.Kind]++
			switch l.Kind {
			case operations.LinkInventorySnapshot:
				_, err = a.Inventory.Snapshot(ctx, l.ID)
			case operations.LinkDriftFindings:
				_, err = a.Drift.Report(ctx, l.ID)
			case operations.LinkBackupSet:
				_, err = a.Backup.Set(ctx, l.ID)
			}
			require.NoError(t, err, "%s %s exists", l.Kind, l.ID)
		}
	}
	require.Equal(t, map[operations.LinkKind]int{operations.LinkProviderConnection: 3, operations.LinkInventorySnapshot: 9,
		operations.LinkDirectoryGroups: 3, operations.LinkDirectoryRoles: 3, operations.LinkDriftFindings: 6, operations.LinkBackupSet: 9, operations.LinkRestore: 6}, linked)
	for _, tn := range seed.Tenants {
		rep, findings, err := a.Drift.LatestFindings(ctx, tn.ID)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Added, tn.Name)
		require.Equal(t, 1, rep.Changed, tn.Name)
		require.Len(t, findings, 2)
		scs, err := a.Backup.Schedules(ctx, tn.ID)
		require.NoError(t, err)
		require.Len(t, scs, 1)
		require.Equal(t, monolith.DemoScheduleName, scs[0].Name)
		require.Equal(t, "Europe/Berlin", scs[0].Timezone)
		ids, err := a.Backup.ScheduleRunIDs(ctx, scs[0].ID, 10)
		require.NoError(t, err)
		require.Len(t, ids, 1, "one run now of the schedule")
		restores, err := a.Restore.Restores(ctx, tn.ID, 10)
		require.NoError(t, err)
		require.Len(t, restores, 1, "one finished restore")
		items, err := a.Restore.Items(ctx, restores[0].ID)
		require.NoError(t, err)
		updated := 0
		for _, it := range items {
			if it.Result == "updated" {
				updated++
			}
		}
		require.Equal(t, 1, updated, "%s: the restore wrote back the edited device configuration", tn.Name)
	}

	again, err := monolith.SeedDemoRuns(ctx, a, seed, sim)
	require.NoError(t, err)
	require.Equal(t, monolith.DemoRunsResult{}, again, "once per database")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ops_runs`).Scan(&n))
	require.Equal(t, 39, n)
}
