package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

// TestHubReadsFromAStreamingReplica serves the hub with its run lists read from a
// streaming replica (pgtest.StreamingReplica: a private primary and a pg_basebackup -R
// standby; skipped where the binaries are missing, required in CI). A run started
// through the API is written on the primary (the replica refuses writes) and projected
// there; with the replica's replay paused the API list does not show it, though the
// primary's read model has it (so the list is the replica's) and /readyz shows the lag
// in bytes; once replay resumes the run shows within a bounded wait and the lag goes
// back to 0. The metrics carry the lag too.
func TestHubReadsFromAStreamingReplica(t *testing.T) {
	t.Parallel()
	began := time.Now()
	primaryURL, replicaURL := pgtest.StreamingReplica(t, "atlas")
	t.Logf("primary and replica up in %s", time.Since(began))
	ctx := t.Context()
	open := func(url string) *pgxpool.Pool {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	primary, replica := open(primaryURL), open(replicaURL)
	require.NoError(t, monolith.Migrate(ctx, primary))
	a := monolith.New(primary, monolith.Options{BcryptCost: bcrypt.MinCost})
	seed, err := monolith.SeedDemo(ctx, a)
	require.NoError(t, err)
	t.Logf("migrated and seeded at %s", time.Since(began))
	h := serveHub(t, a, primary, seed, func(d *web.Deps) {
		d.ReadRuns = projections.NewRunReader(replica)
		d.ReplicaLag = func(ctx context.Context) (projections.ReplicaLag, error) {
			return projections.MeasureReplicaLag(ctx, primary, replica)
		}
	})
	_, err = replica.Exec(ctx, `INSERT INTO saved_views (user_id, name, url, created_at) VALUES (gen_random_uuid(), 'x', '/', now())`)
	require.ErrorContains(t, err, "read-only", "the replica is a standby")

	project := func() {
		require.Eventually(t, func() bool {
			_, err := a.Store.Seal(ctx)
			require.NoError(t, err)
			_, err = a.Runner.CatchUp(ctx, projections.HubRuns{})
			require.NoError(t, err)
			var n int
			require.NoError(t, primary.QueryRow(ctx, `SELECT count(*) FROM rm_runs`).Scan(&n))
			return n > 0
		}, 30*time.Second, 20*time.Millisecond)
	}
	listed := func(run string) bool {
		code, out := h.call(t, "owner", "GET", "/api/v1/operations?limit=200", "")
		require.Equal(t, http.StatusOK, code, out)
		for _, r := range out["runs"].([]any) {
			if r.(map[string]any)["id"] == run {
				return true
			}
		}
		return false
	}
	readyz := func() (int, map[string]any) {
		resp, err := http.Get(h.base + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		var v map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return resp.StatusCode, v
	}

	// Replay paused: the primary has the run, its read model too; the replica's lists not.
	_, err = replica.Exec(ctx, `SELECT pg_wal_replay_pause()`)
	require.NoError(t, err)
	tenant := h.seed.Tenants[0].ID.String()
	code, started := h.call(t, "owner", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start", `{"context":{"baseline":"replica"}}`)
	require.Equal(t, http.StatusOK, code, started)
	run := started["run"].(map[string]any)["id"].(string)
	project()
	var onPrimary int
	require.NoError(t, primary.QueryRow(ctx, `SELECT count(*) FROM rm_runs WHERE run_id = $1`, run).Scan(&onPrimary))
	require.Equal(t, 1, onPrimary)
	require.False(t, listed(run), "the list is read from the (paused) replica")
	code, ready := readyz()
	require.Equal(t, http.StatusOK, code, ready)
	require.Equal(t, "ok", ready["checks"].(map[string]any)["replica"])
	require.Greater(t, ready["replicaLag"].(map[string]any)["bytes"].(float64), float64(0), "the lag shows while replay is paused")
	resp, err := http.Get(h.base + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Contains(t, string(metrics), "atlas_read_replica_lag_bytes ")
	require.NotContains(t, string(metrics), "atlas_read_replica_lag_bytes 0\n")

	// Replay resumed: the run shows through the replica, and the lag closes.
	_, err = replica.Exec(ctx, `SELECT pg_wal_replay_resume()`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return listed(run) }, 30*time.Second, 20*time.Millisecond,
		"the run written on the primary never became visible through the replica")
	require.Eventually(t, func() bool {
		_, ready := readyz()
		lag, _ := ready["replicaLag"].(map[string]any)
		return lag != nil && lag["bytes"].(float64) == 0
	}, 30*time.Second, 50*time.Millisecond)
	// A run's own page reads the primary (no lag after a start).
	b := newBrowser(t, h)
	b.login("owner")
	resp2, body := b.get("/admin/operations/" + run)
	require.Equal(t, http.StatusOK, resp2.StatusCode)
	require.True(t, strings.Contains(body, run))
}
