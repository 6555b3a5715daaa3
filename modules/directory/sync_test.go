package directory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestGroupsSync10k: 10,000 groups with exact counts; a second sync after the
// simulator deleted three and added two removes and adds exactly those.
func TestGroupsSync10k(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{Seed: 1, Groups: 10000, PageSize: 999}})
	run := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	require.Equal(t, operations.Counts{"total": 10000, "processed": 10000, "succeeded": 10000, "created": 10000}, run.Counts)
	require.Equal(t, e.Tenant, monotest.Link(t, run, operations.LinkDirectoryGroups))
	n, err := e.App.Directory.CountGroups(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, 10000, n)
	st, err := e.App.Directory.GroupsSyncState(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, run.ID, st.RunID)
	require.Equal(t, 10000, st.ObjectCount)
	types := e.EventTypes(t, run.ID)
	require.Less(t, len(types), 30, "progress is batched per page and flush, not per group: %v", types)

	sim := e.Sim.Objects(e.EntraTenant, "groups")
	gone := []string{sim[0]["id"].(string), sim[5000]["id"].(string), sim[9999]["id"].(string)}
	for _, id := range gone {
		require.True(t, e.Sim.DeleteObject(e.EntraTenant, "groups", id))
	}
	renamed := sim[42]
	renamed["displayName"] = "Renamed Zebra Group"
	e.Sim.SetObject(e.EntraTenant, "groups", renamed)
	e.Sim.SetObject(e.EntraTenant, "groups", map[string]any{"id": "aaaaaaaa-0000-0000-0000-000000000001", "displayName": "Added Quokka One", "securityEnabled": true, "groupTypes": []any{}})
	e.Sim.SetObject(e.EntraTenant, "groups", map[string]any{"id": "aaaaaaaa-0000-0000-0000-000000000002", "displayName": "Added Quokka Two", "mailEnabled": true, "groupTypes": []any{"Unified"}})

	second := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.Counts{"total": 9999, "processed": 9999, "succeeded": 9999, "created": 2, "updated": 1, "deleted": 3}, second.Counts)
	n, err = e.App.Directory.CountGroups(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, 9999, n)
	for _, id := range gone {
		_, err := e.App.Directory.Group(e.Ctx, e.Tenant, id)
		require.Error(t, err, "deleted in the tenant, deleted here")
	}
	found, err := e.App.Directory.SearchGroups(e.Ctx, e.Tenant, "quokka", 10)
	require.NoError(t, err)
	require.Len(t, found, 2)
	require.Equal(t, []string{"Unified"}, found[1].GroupTypes)
	require.Equal(t, second.ID, found[0].RunID)
	found, err = e.App.Directory.SearchGroups(e.Ctx, e.Tenant, "zebra", 10)
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, renamed["id"], found[0].ObjectID)
	found, err = e.App.Directory.SearchGroups(e.Ctx, e.Tenant, "finance 0", 5)
	require.NoError(t, err)
	require.Len(t, found, 5)
	for _, g := range found {
		require.Contains(t, g.DisplayName, "Finance 0")
	}

	// Nothing changed: nothing is written, and every group was last seen by the third sync.
	third := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.Counts{"total": 9999, "processed": 9999, "succeeded": 9999}, third.Counts)
	var written int
	require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT count(*) FROM dir_groups WHERE tenant_id = $1 AND changed_run_id = $2`, e.Tenant, third.ID).Scan(&written))
	require.Zero(t, written)
	for _, id := range []string{renamed["id"].(string), "aaaaaaaa-0000-0000-0000-000000000001", sim[1]["id"].(string)} {
		g, err := e.App.Directory.Group(e.Ctx, e.Tenant, id)
		require.NoError(t, err)
		require.Equal(t, third.ID, g.RunID, "the last sync saw %s", id)
	}
	st, err = e.App.Directory.GroupsSyncState(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, third.ID, st.RunID)
	require.Equal(t, 9999, st.ObjectCount)
}

// TestGroupsSyncThrottlingStorm: every page request is first answered 429 (several
// times); the retry layer rides it out and the counts are exact.
func TestGroupsSyncThrottlingStorm(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{Seed: 2, Groups: 2000, PageSize: 100},
		Retry: graph.RetryPolicy{MaxAttempts: 40, MaxElapsed: 30 * time.Second, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	// Every page request is answered 429 three times before it is served.
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{ThrottleEach: 3, RetryAfter: "0"})
	before := e.Sim.Requests()
	run := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	require.Equal(t, operations.Counts{"total": 2000, "processed": 2000, "succeeded": 2000, "created": 2000}, run.Counts)
	require.Equal(t, int64(4*20), e.Sim.Requests()-before, "20 pages, each answered 429 three times, then served")

	// A storm that outlasts the retries fails the run as throttled.
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{Throttle: 1000, RetryAfter: "0"})
	throttled := e.Run(t, "directory.role_definitions.sync", `{}`)
	require.Equal(t, operations.OutcomeFailed, throttled.Outcome)
	require.Equal(t, failure.GraphThrottled, throttled.ReasonCode)
}

// TestConsentRevokedWhileRunning: consent is revoked while a groups sync pages; the run
// fails with provider_consent_missing, deletes nothing, the connection records it and
// the next start is blocked.
func TestConsentRevokedWhileRunning(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{Seed: 3, Groups: 3000, PageSize: 50}})
	roles := e.Run(t, "directory.role_definitions.sync", `{}`)
	require.Equal(t, operations.Counts{"total": 20, "processed": 20, "succeeded": 20, "created": 20}, roles.Counts)
	defs, err := e.App.Directory.SearchRoleDefinitions(e.Ctx, e.Tenant, "administrator", 100)
	require.NoError(t, err)
	require.NotEmpty(t, defs)

	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{Latency: 20 * time.Millisecond}) // 60 pages: over a second
	out := e.Start(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	require.Eventually(t, func() bool {
		n, err := e.App.Directory.CountGroups(e.Ctx, e.Tenant)
		require.NoError(t, err)
		return n > 0
	}, 30*time.Second, time.Millisecond, "the sync started writing")
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{ConsentMissing: true})
	run := e.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomeFailed, run.Outcome)
	require.Equal(t, failure.ProviderConsentMissing, run.ReasonCode, run.Message)
	n, err := e.App.Directory.CountGroups(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Less(t, n, 3000, "the sync stopped part way")
	require.Equal(t, n, int(run.Counts["succeeded"]), "every group written was counted")
	_, err = e.App.Directory.GroupsSyncState(e.Ctx, e.Tenant)
	require.Error(t, err, "an unfinished sync is not the last complete one")
	kept, err := e.App.Directory.CountRoleDefinitions(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, 20, kept)

	pc, err := e.App.Tenancy.Connection(e.Ctx, e.Conn)
	require.NoError(t, err)
	require.Equal(t, tenancy.ConnectionConsentMissing, pc.Status)
	blocked := e.Start(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Equal(t, failure.ProviderConsentMissing, blocked.ReasonCode)
}
