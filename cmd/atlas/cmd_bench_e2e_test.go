package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// TestBenchE2EAndGate runs `atlas bench e2e` and `atlas bench gate` with a few runs on
// a tiny bench data set: each ends with its machine-readable line, every e2e run is
// completed on the write side and in the hub read model, and the gate's runs are
// queued (no workers ran). Not a timing test.
func TestBenchE2EAndGate(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	env := map[string]string{"DATABASE_URL": pool.Config().ConnString()}
	code, _, stderr := atlas(t.Context(), env, "bench", "e2e", "--runs", "5")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "run `atlas bench seed` first")
	code, _, stderr = atlas(t.Context(), env, "bench", "seed", "--tenants", "1", "--runs", "1", "--writers", "1", "--log-level", "warn")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = atlas(t.Context(), env, "bench", "e2e", "--runs", "0")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "must be positive")

	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), q, args...).Scan(&n))
		return n
	}
	t0 := time.Now()
	const runs = 24
	code, stdout, stderr := atlas(t.Context(), env, "bench", "e2e", "--runs", "24", "--callers", "3", "--log-level", "warn")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Regexp(t, `^e2e: \d+ runs/s, start→completed p99 \d+\.\d ms, start→visible p99 \d+\.\d ms$`, lines[len(lines)-1])
	require.Regexp(t, `start → visible in the hub read model: n=24 `, stdout)
	require.Regexp(t, `peak RSS of this process .*: \d+ MiB`, stdout)
	require.Equal(t, runs, count(`SELECT count(*) FROM ops_runs WHERE type = $1 AND queued_at >= $2 AND status = 'completed'`, benchRunType, t0))
	require.Equal(t, runs, count(`SELECT count(*) FROM rm_runs WHERE type = $1 AND queued_at >= $2 AND status = 'completed'
		AND outcome = 'succeeded'`, benchRunType, t0))

	t1 := time.Now()
	code, stdout, stderr = atlas(t.Context(), env, "bench", "gate", "--runs", "10", "--callers", "2", "--log-level", "warn")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, regexp.MustCompile(`(?m)^gate: \d+ starts/s, p99 \d+\.\d ms\n?$`), stdout)
	require.Equal(t, 10, count(`SELECT count(*) FROM ops_runs WHERE type = $1 AND queued_at >= $2 AND status = 'queued'`, benchRunType, t1))
	require.NotContains(t, stdout, "group commit")

	// ATLAS_GATE_GROUP_COMMIT turns the gate's group commit on, and the bench says how
	// many starts it grouped (how many depends on the scheduler).
	env["ATLAS_GATE_GROUP_COMMIT"] = "true"
	t2 := time.Now()
	code, stdout, stderr = atlas(t.Context(), env, "bench", "gate", "--runs", "40", "--callers", "8", "--log-level", "warn")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `gate group commit on: \d+ starts decided in group transactions, 0 group transactions failed`, stdout)
	require.Equal(t, 40, count(`SELECT count(*) FROM ops_runs WHERE type = $1 AND queued_at >= $2 AND status = 'queued'`, benchRunType, t2))
}
