package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

// TestTwoWorkerCommands runs two `atlas worker` commands (each with its own pool) on
// one database holding 200 queued runs: sampled all along, neither holds more running
// runs than its 4 slots; the first is stopped the way SIGTERM stops it while runs are
// still queued, exits cleanly, and the second ends every run, each started once. (The
// real drift handler ends these runs in milliseconds, so this checks the commands'
// wiring; the slot bound under slow runs is TestTwoWorkersTakeOnlyWhatTheyCanRun in
// modules/operations.)
func TestTwoWorkerCommands(t *testing.T) {
	t.Parallel()
	const runs, slots = 200, 4 // slots: the default concurrency
	pool, env, a, seed := seededFresh(t)
	op := seed.Users["operator"]
	for i := range runs {
		tn, err := a.Tenancy.AddTenant(t.Context(), "system:test", seed.Workspace, fmt.Sprintf("Worker tenant %d", i),
			fmt.Sprintf("w%d-%s.onmicrosoft.com", i, uuid.NewString()[:8]))
		require.NoError(t, err)
		out, err := a.Operations.Start(t.Context(), operations.StartRequest{Type: "drift.generate", TenantID: tn.ID,
			Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, SourceSurface: "cli"})
		require.NoError(t, err)
		require.Equal(t, operations.StartAccepted, out.Status)
	}

	var mu sync.Mutex
	peak := map[string]int{}
	ctx, stopSampling := context.WithCancel(t.Context())
	var sampling sync.WaitGroup
	sampling.Go(func() {
		for ctx.Err() == nil {
			rows, err := pool.Query(ctx, `SELECT worker_id, count(*) FROM ops_runs WHERE status = 'running' GROUP BY worker_id`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var w string
				var n int
				if rows.Scan(&w, &n) == nil {
					mu.Lock()
					peak[w] = max(peak[w], n)
					mu.Unlock()
				}
			}
			rows.Close()
		}
	})
	defer func() { stopSampling(); sampling.Wait() }()
	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), q, args...).Scan(&n))
		return n
	}
	completed := func() int {
		return count(`SELECT count(*) FROM ops_runs WHERE status = 'completed' AND type = 'drift.generate'`)
	}

	first := startAtlas(t, env, "worker", "--shutdown-timeout", "10s")
	require.Eventually(t, func() bool { return completed() >= 20 }, 60*time.Second, 5*time.Millisecond, "%s", first.stderr.String())
	var firstID string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT min(worker_id) FROM ops_runs WHERE worker_id IS NOT NULL`).Scan(&firstID))
	second := startAtlas(t, env, "worker", "--shutdown-timeout", "10s")
	require.Eventually(t, func() bool { return count(`SELECT count(DISTINCT worker_id) FROM ops_runs`) == 2 }, 60*time.Second, 5*time.Millisecond)
	first.stop(t) // SIGTERM's path
	byFirst := count(`SELECT count(*) FROM ops_runs WHERE worker_id = $1`, firstID)
	require.Zero(t, count(`SELECT count(*) FROM ops_runs WHERE worker_id = $1 AND status <> 'completed'`, firstID),
		"the stopped worker finished what it ran")
	require.Less(t, completed(), runs, "runs were still queued when the first worker stopped")

	require.Eventually(t, func() bool { return completed() == runs }, 60*time.Second, 10*time.Millisecond, "%s", second.stderr.String())
	second.stop(t)
	require.Equal(t, byFirst, count(`SELECT count(*) FROM ops_runs WHERE worker_id = $1`, firstID), "a stopped worker claims nothing more")
	require.Equal(t, runs, count(`SELECT count(*) FROM ops_runs WHERE type = 'drift.generate' AND outcome = 'failed'`),
		"every run ended (drift_baseline_missing: the tenants have no inventory)")
	require.Equal(t, runs, count(`SELECT count(*) FROM es_events WHERE event_type = 'RunStarted'`), "each run started once")
	require.Equal(t, runs, count(`SELECT count(DISTINCT stream_id) FROM es_events WHERE event_type = 'RunStarted'`))

	stopSampling()
	sampling.Wait()
	t.Logf("peak running per worker %v; first worker ran %d", peak, byFirst)
	require.Len(t, peak, 2)
	for w, n := range peak {
		require.LessOrEqual(t, n, slots, "worker %s held %d running runs with %d slots", w, n, slots)
	}
}
