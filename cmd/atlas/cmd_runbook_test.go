package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
)

// TestRunbookCommands: `atlas runbook preflight` prints {"total","affected","tenants"};
// two `atlas runbook run` at once print the gate's StartOutcome (one accepted, the other
// scope_busy with exit 1), refuses a bad confirmation, a missing reason or a
// missing flag with exit 2 and an unknown platform user with exit 1; `atlas worker`
// then works the run to its end.
func TestRunbookCommands(t *testing.T) {
	t.Parallel()
	pool, env, a, seed := seededFresh(t)
	const key = runbooks.BackfillKey
	ws := seed.Workspace.String()
	tenant := seed.Tenants[0].ID
	run := uuid.Must(uuid.NewV7())
	_, err := pool.Exec(t.Context(), `INSERT INTO drift_reports (run_id, tenant_id, baseline_snapshot_id, current_snapshot_id, generated_at, added, removed, changed)
		VALUES ($1, $2, $3, $4, now(), 1, 0, 0)`, run, tenant, uuid.New(), uuid.New())
	require.NoError(t, err)
	_, err = pool.Exec(t.Context(), `INSERT INTO drift_findings (run_id, tenant_id, policy_type, policy_id, display_name, kind)
		VALUES ($1, $2, 'compliancePolicies', 'p1', 'Policy 1', 'added')`, run, tenant)
	require.NoError(t, err)
	inWorkspace, err := a.Tenancy.TenantsOf(t.Context(), seed.Workspace)
	require.NoError(t, err)

	for _, args := range [][]string{
		{"runbook", "preflight"},
		{"runbook", "preflight", key},
		{"runbook", "preflight", "no.such.runbook", "--scope", "all"},
		{"runbook", "preflight", key, "--scope", "sideways"},
		{"runbook", "preflight", key, "--scope", "all", "extra"},
		{"runbook", "run", key, "--scope", "all", "--confirm", key},
		{"runbook", "run", key, "--scope", "all", "--as", "x@example.com"},
	} {
		code, _, stderr := atlas(t.Context(), env, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	}
	code, _, stderr := atlas(t.Context(), env, "runbook", "preflight", key, "--scope", "all", "--json")
	require.Equal(t, 2, code, "two demo workspaces have tenants: name one")
	require.Contains(t, stderr, "--workspace")

	code, stdout, stderr := atlas(t.Context(), env, "runbook", "preflight", key, "--scope", "all", "--workspace", ws, "--json")
	require.Equal(t, 0, code, stderr)
	require.JSONEq(t, `{"total":1,"affected":1,"tenants":`+itoa(len(inWorkspace))+`}`, stdout)
	code, stdout, stderr = atlas(t.Context(), env, "runbook", "preflight", "--scope", tenant.String(), key, "--json")
	require.Equal(t, 0, code, stderr)
	require.JSONEq(t, `{"total":1,"affected":1,"tenants":1}`, stdout)

	platform := seed.Platform.Email
	runArgs := func(extra ...string) []string {
		return append([]string{"runbook", "run", key, "--scope", "all", "--workspace", ws, "--as", platform, "--json"}, extra...)
	}
	code, _, stderr = atlas(t.Context(), env, runArgs("--confirm", "findings", "--reason-code", "DATA_REPAIR", "--reason", "x")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "confirmation")
	code, _, stderr = atlas(t.Context(), env, runArgs("--confirm", key)...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "needs a reason")
	code, _, stderr = atlas(t.Context(), env, "runbook", "run", key, "--scope", "all", "--workspace", ws, "--as", "nobody@example.com", "--confirm", key)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no enabled platform user")
	code, _, stderr = atlas(t.Context(), env, "runbook", "run", key, "--scope", "all", "--workspace", ws, "--as", seed.PlatformViewer.Email,
		"--confirm", key, "--reason-code", "SUPPORT", "--reason", "x")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "capabilities do not allow")

	// Two commands at once (each its own pool, as two processes): one run is accepted,
	// the other start is scope_busy naming it and exits 1 after printing its outcome.
	type result struct {
		code           int
		stdout, stderr string
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.code, r.stdout, r.stderr = atlas(t.Context(), env, runArgs("--confirm", key, "--reason-code", "DATA_REPAIR", "--reason", "ticket "+itoa(i))...)
		})
	}
	wg.Wait()
	if results[0].code != 0 {
		results[0], results[1] = results[1], results[0]
	}
	require.Equal(t, 0, results[0].code, results[0].stderr)
	var out operations.StartOutcome
	require.NoError(t, json.Unmarshal([]byte(results[0].stdout), &out))
	require.Equal(t, operations.StartAccepted, out.Status)
	require.Equal(t, key, out.OperationType)
	require.Equal(t, "/system/ops/runs/"+out.Run.ID.String(), out.Run.URL)
	require.Equal(t, 1, results[1].code, "the second fan-out while the first is active")
	require.Contains(t, results[1].stderr, "scope_busy")
	var busy operations.StartOutcome
	require.NoError(t, json.Unmarshal([]byte(results[1].stdout), &busy))
	require.Equal(t, operations.StartScopeBusy, busy.Status)
	require.Equal(t, out.Run.ID, busy.Run.ID)

	worker := startAtlas(t, env, "worker", "--shutdown-timeout", "5s")
	var r *operations.Run
	require.Eventually(t, func() bool {
		r, err = a.Operations.Load(t.Context(), out.Run.ID)
		require.NoError(t, err)
		return r.Terminal()
	}, 30*time.Second, 20*time.Millisecond, "the worker never ran it: %s", worker.stderr.String())
	require.Equal(t, operations.OutcomeSucceeded, r.Outcome, r.Message)
	require.Equal(t, operations.Counts{"tenants": int64(len(inWorkspace)), "total": 1, "processed": 1, "updated": 1}, r.Counts)
	require.Equal(t, "cli", r.SourceSurface)
	worker.stop(t)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
