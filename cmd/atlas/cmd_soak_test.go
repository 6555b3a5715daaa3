package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
)

// TestSoakCheckersCatchViolations hands every database-free check a planted violation
// beside a clean input: the soak can fail.
func TestSoakCheckersCatchViolations(t *testing.T) {
	t.Parallel()
	clean := []soakRunEvent{
		{Stream: "run-a", Type: "RunQueued", Identity: "i1"}, {Stream: "run-a", Type: "RunStarted"},
		{Stream: "run-a", Type: "RunCompleted"}, {Stream: "run-b", Type: "RunQueued", Identity: "i1"},
		{Stream: "run-b", Type: "RunStaleTimedOut"}, {Stream: "run-c", Type: "RunQueued", Identity: "i2"},
	}
	runs, ids, overlaps := checkIdentities(clean)
	require.Equal(t, 3, runs)
	require.Equal(t, 2, ids)
	require.Empty(t, overlaps)
	// run-b queued while run-a (same identity) is still running.
	planted := []soakRunEvent{clean[0], clean[1], clean[3], clean[2], clean[4]}
	_, _, overlaps = checkIdentities(planted)
	require.Len(t, overlaps, 1)
	require.Contains(t, overlaps[0], "run-b queued while run-a was active")
	// A run blocked at the gate (queued and ended in one transaction) beside the active
	// run-a is no overlap; queued in one transaction and ended in another, it is.
	blocked := []soakRunEvent{clean[0], {Stream: "run-d", Type: "RunQueued", Identity: "i1", Tx: "7"},
		{Stream: "run-d", Type: "RunBlocked", Tx: "7"}, clean[1]}
	runs, _, overlaps = checkIdentities(blocked)
	require.Equal(t, 2, runs)
	require.Empty(t, overlaps)
	blocked[2].Tx = "8"
	_, _, overlaps = checkIdentities(blocked)
	require.Len(t, overlaps, 1)
	require.Contains(t, overlaps[0], "run-d queued while run-a was active")

	started, twice := checkWorkedOnce(clean)
	require.Equal(t, 1, started)
	require.Empty(t, twice)
	_, twice = checkWorkedOnce(append(clean, soakRunEvent{Stream: "run-a", Type: "RunStarted"}))
	require.Equal(t, []string{"run-a"}, twice)

	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	faults := []soakFault{{Kind: "leader kill", Start: t0, End: t0.Add(2 * time.Second), Explains: true},
		{Kind: "idle transaction", Start: t0.Add(time.Minute), End: t0.Add(time.Minute + 4*time.Second)}}
	fails := []soakFailure{{At: t0.Add(time.Second), What: "during the kill"}, {At: t0.Add(6 * time.Second), What: "within the grace"},
		{At: t0.Add(30 * time.Second), What: "nothing explains it"}, {At: t0.Add(time.Minute + time.Second), What: "an idle transaction explains no 5xx"}}
	bad := unexplained(fails, faults)
	require.Len(t, bad, 2)
	require.Equal(t, "nothing explains it", bad[0].What)
	require.Equal(t, "an idle transaction explains no 5xx", bad[1].What)

	require.Equal(t, 0, secretCount(`{"error":"graph groups: throttled (HTTP 429)"}`, []string{"soak-secret-1"}))
	require.Equal(t, 2, secretCount(`secret soak-secret-1 and soak-secret-1`, []string{"soak-secret-1", ""}))

	base, ok := parseSoakSample("# HELP go_goroutines x\ngo_goroutines 48\ngo_memstats_heap_inuse_bytes 1.6e+07\n")
	require.True(t, ok)
	require.Equal(t, soakSample{Goroutines: 48, HeapInuse: 16e6}, base)
	_, ok = parseSoakSample("go_goroutines 48\n")
	require.False(t, ok, "a page without the heap")
	require.True(t, backToBaseline(base, soakSample{Goroutines: 70, HeapInuse: 60e6}))
	require.False(t, backToBaseline(base, soakSample{Goroutines: 400, HeapInuse: 16e6}), "leaked goroutines")
	require.False(t, backToBaseline(base, soakSample{Goroutines: 48, HeapInuse: 500e6}), "leaked heap")
}

// TestSoakUsage: bad flags are usage errors (exit 2) before anything starts.
func TestSoakUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--duration", "1s"}, {"--tenants", "1"}, {"--concurrency", "0"}, {"--processes", "9"}, {"extra"}} {
		code, _, stderr := atlas(t.Context(), map[string]string{}, append([]string{"soak"}, args...)...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, "atlas soak:")
	}
}

// soakInvariants are the invariant lines every soak prints.
var soakInvariants = []string{"terminal", "baseline", "identity", "worked-once", "one-leader", "handover",
	"read-models", "audit-verify", "secrets", "no-5xx", "refusals"}

// runSoakBinary builds atlas and runs `atlas soak` with args against the test server;
// it returns the exit code and stdout, and checks the soak dropped its database.
func runSoakBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "atlas")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	admin := pgtest.AdminURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"soak"}, args...)...)
	cmd.Env = append(childEnv(nil), "DATABASE_URL="+admin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	t.Logf("atlas soak %v (exit %d):\n%s\nstderr (tail): %s", args, code, stdout.String(), lastLines(stderr.String(), 5))

	m := regexp.MustCompile(`database (atlas_soak_\d+)`).FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "the soak names its database")
	conn, err := pgx.Connect(t.Context(), admin)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	var left bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, m[1]).Scan(&left))
	require.False(t, left, "the soak drops its database")
	return code, stdout.String()
}

// TestSoak is the CI soak: one minute of mixed load and faults against a serve and a
// worker it starts itself; exit 0 and every invariant printed as ok.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a one-minute soak")
	}
	if os.Getenv("CI") == "" && os.Getenv("ATLAS_SOAK") == "" {
		t.Skip("set ATLAS_SOAK=1 (CI sets CI=true) to run the one-minute soak")
	}
	code, out := runSoakBinary(t, "--duration", "60s", "--tenants", "8", "--concurrency", "8")
	for _, inv := range soakInvariants {
		require.Regexp(t, `(?m)^invariant `+inv+`: ok \(count `, out)
	}
	require.Equal(t, 0, code)
	require.Regexp(t, `(?m)^fault worker SIGKILL: 1×`, out)
	require.Regexp(t, `(?m)^fault leader kill: [12]×`, out)
	require.Regexp(t, `(?m)^fault pg_terminate_backend: [123]×`, out)
	require.Regexp(t, `(?m)^fault idle transaction: 1×`, out)
	require.Regexp(t, `the soak saw the secret in 1 simulator error body`, out, "the secret was planted where a leak would show")
}

// TestSoakDatabaseChecksCatchViolations: on a seeded database the read models equal a
// rebuild and no planted string shows; a deleted read-model row and a "secret" that is
// in the events (a tenant's name) are both caught.
func TestSoakDatabaseChecksCatchViolations(t *testing.T) {
	t.Parallel()
	pool, _, a, seed := seededFresh(t)
	s := &soak{pool: pool, app: a, secret: "soak-secret-never-written"}
	require.NoError(t, s.sealAll(t.Context()))

	equal, tables, diff, err := s.compareRebuild(t.Context())
	require.NoError(t, err)
	require.Empty(t, diff)
	require.Equal(t, tables, equal)
	line, hits, err := s.secretScan(t.Context())
	require.NoError(t, err)
	require.Zero(t, hits, line)

	var victim string
	s.tamper = func(ctx context.Context) error {
		for _, p := range monolith.Projections() {
			for _, tb := range p.Tables() {
				q := pgx.Identifier{tb.Name}.Sanitize()
				tag, err := pool.Exec(ctx, `DELETE FROM `+q+` WHERE ctid = (SELECT ctid FROM `+q+` LIMIT 1)`)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 1 {
					victim = tb.Name
					return nil
				}
			}
		}
		return nil
	}
	equal, tables, diff, err = s.compareRebuild(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, victim, "the seed fills some read model")
	require.Equal(t, tables-1, equal)
	require.Contains(t, diff, victim)

	s.secret = seed.Tenants[0].Name
	line, hits, err = s.secretScan(t.Context())
	require.NoError(t, err)
	require.Positive(t, hits, line)
	require.Regexp(t, `^\d+ hits: [1-9]\d* in \d+ events`, line)
}
