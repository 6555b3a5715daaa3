package monolith_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph/msgraph"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
)

func typeNames(ts []operations.TypeInfo) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Type
	}
	return out
}

// TestWorkerTypes: a process wired without Graph (a gate for the deployment's workers)
// offers exactly the types a working process registers handlers for: WorkerTypes
// cannot drift from the modules' Register calls. Wiring touches no database.
func TestWorkerTypes(t *testing.T) {
	t.Parallel()
	working := monolith.New(nil, monolith.Options{Graph: msgraph.New(msgraph.Options{})}).Operations
	gate := monolith.New(nil, monolith.Options{}).Operations
	require.Equal(t, monolith.WorkerTypes(), typeNames(working.RunnableTypes()), "the handlers a working process registers")
	require.Equal(t, monolith.WorkerTypes(), typeNames(gate.RunnableTypes()), "what a process without Graph declares")
	for _, typ := range []string{"restore.execute", "backup_schedule.run_now", "backup_schedule.retry", "backup_schedule.scheduled", "findings.lifecycle.backfill"} {
		require.False(t, working.Runnable(typ), "%s has no handler yet", typ)
		require.False(t, gate.Runnable(typ), typ)
	}
}
