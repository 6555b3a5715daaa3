package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

// TestWorkersLeaveNoDispatchRows: runs are dispatched through the watermill outbox and
// worked by `atlas worker`; the next worker process's outbox sweeper (started by
// monolith.Background, first sweep at start-up) deletes every consumed dispatch message,
// so the dispatch table does not grow with the runs. The sweep keeps nothing else:
// the log (es_events) is kept by design.
func TestWorkersLeaveNoDispatchRows(t *testing.T) {
	t.Parallel()
	pool, env, a, seed := seededFresh(t)
	op := seed.Users["operator"]
	var ids []string
	for i := range 5 {
		out, err := a.Operations.Start(t.Context(), operations.StartRequest{Type: "drift.generate", TenantID: seed.Tenants[i%3].ID,
			Context: []byte(fmt.Sprintf(`{"baseline":"%d"}`, i)), Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, SourceSurface: "cli"})
		require.NoError(t, err)
		require.Equal(t, operations.StartAccepted, out.Status)
		ids = append(ids, out.Run.ID.String())
	}
	count := func(table string) int {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	require.Equal(t, 5, count("watermill_ops_dispatch"))

	worker := startAtlas(t, env, "worker")
	require.Eventually(t, func() bool {
		var ended int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs WHERE run_id::text = ANY($1) AND status = 'completed'`, ids).Scan(&ended))
		return ended == len(ids)
	}, 60*time.Second, 20*time.Millisecond, "the worker never finished the runs: %s", worker.stderr.String())
	// The runs are claimed from ops_runs; their jobs are only wake-ups, consumed by the
	// worker's router on its own schedule: wait until the group has passed them all. An
	// empty table counts as passed: the worker's sweep deletes consumed messages only
	// (CI 2026-12-02 found the sweep there first, and max() of no rows is NULL).
	require.Eventually(t, func() bool {
		var passed bool
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT COALESCE((SELECT max(o.offset_acked) FROM watermill_offsets_ops_dispatch o
			WHERE o.consumer_group = 'workers'), 0) >= COALESCE((SELECT max("offset") FROM watermill_ops_dispatch), 0)`).Scan(&passed))
		return passed
	}, 60*time.Second, 20*time.Millisecond, "the worker never consumed the jobs: %s", worker.stderr.String())
	worker.stop(t)

	next := startAtlas(t, env, "worker")
	require.Eventually(t, func() bool { return count("watermill_ops_dispatch") == 0 }, 30*time.Second, 20*time.Millisecond,
		"consumed dispatch messages are swept")
	require.Zero(t, count("watermill_ops_dispatch_poison"))
	next.stop(t)
}
