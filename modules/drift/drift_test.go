package drift_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestDriftEndToEnd: drift is blocked at the gate until two complete inventory
// snapshots exist; after a policy is changed, one added and one removed in the
// simulator, it finds exactly those, naming the changed field, and the run links its
// findings.
func TestDriftEndToEnd(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{Seed: 7, Policies: 12}})

	blocked := e.Start(t, "drift.generate", `{}`)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Equal(t, failure.DriftBaselineMissing, blocked.ReasonCode)
	require.Contains(t, blocked.OperatorMessage, "this tenant has 0")

	first := e.Run(t, "inventory.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, first.Outcome, first.Message)
	require.Equal(t, operations.Counts{"total": 36, "processed": 36, "succeeded": 36}, first.Counts)
	snap, err := e.App.Inventory.SnapshotOfRun(e.Ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, snap.ID, monotest.Link(t, first, operations.LinkInventorySnapshot))
	require.Equal(t, inventory.SnapshotComplete, snap.Status)
	require.Equal(t, 36, snap.ItemCount)
	require.Equal(t, inventory.TypeCounts{Total: 12, Succeeded: 12}, snap.Types["settingsCatalogPolicies"])
	items, err := e.App.Inventory.AllItems(e.Ctx, snap.ID)
	require.NoError(t, err)
	require.Len(t, items, 36)
	for _, it := range items {
		allowed := map[string]bool{}
		for _, f := range inventory.Fields(it.PolicyType) {
			allowed[f] = true
		}
		for f := range it.Fields {
			require.True(t, allowed[f], "%s keeps only whitelisted fields, not %q", it.PolicyType, f)
		}
		require.NotEmpty(t, it.DisplayName)
		require.Len(t, it.ContentHash, 64)
	}
	page, err := e.App.Inventory.Items(e.Ctx, snap.ID, inventory.ItemQuery{PolicyType: "compliancePolicies", Limit: 5})
	require.NoError(t, err)
	require.Len(t, page, 5)
	next, err := e.App.Inventory.Items(e.Ctx, snap.ID, inventory.ItemQuery{PolicyType: "compliancePolicies", AfterType: page[4].PolicyType, AfterID: page[4].PolicyID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, next, 7)

	again := e.Start(t, "drift.generate", `{}`)
	require.Equal(t, operations.StartBlocked, again.Status, "one snapshot is not enough")
	require.Contains(t, again.OperatorMessage, "this tenant has 1")

	// Change the tenant: rename one device configuration, add a compliance policy,
	// delete a settings catalog policy.
	dcs := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	changed := dcs[3]
	changed["displayName"] = "Renamed by an admin"
	e.Sim.SetObject(e.EntraTenant, "deviceConfigurations", changed)
	added := map[string]any{"id": "11111111-2222-3333-4444-555555555555", "displayName": "New compliance policy",
		"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "version": 1}
	e.Sim.SetObject(e.EntraTenant, "compliancePolicies", added)
	removed := e.Sim.Objects(e.EntraTenant, "settingsCatalogPolicies")[5]
	require.True(t, e.Sim.DeleteObject(e.EntraTenant, "settingsCatalogPolicies", removed["id"].(string)))

	second := e.Run(t, "inventory.sync", `{}`)
	require.Equal(t, operations.Counts{"total": 36, "processed": 36, "succeeded": 36}, second.Counts)

	run := e.Run(t, "drift.generate", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	require.Equal(t, operations.Counts{"total": 37, "processed": 37, "succeeded": 37, "items": 3, "created": 1, "deleted": 1, "updated": 1}, run.Counts)
	require.Equal(t, run.ID, monotest.Link(t, run, operations.LinkDriftFindings))
	require.Contains(t, operations.RelatedLinks(run), operations.NextStep{Label: "Drift findings", Href: "/admin/t/" + e.Tenant.String() + "/drift?run=" + run.ID.String()})

	findings, err := e.App.Drift.FindingsByRun(e.Ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, findings, 3)
	byKind := map[drift.Kind]drift.Finding{}
	for _, f := range findings {
		byKind[f.Kind] = f
	}
	require.Equal(t, "compliancePolicies", byKind[drift.Added].PolicyType)
	require.Equal(t, added["id"], byKind[drift.Added].PolicyID)
	require.Equal(t, "settingsCatalogPolicies", byKind[drift.Removed].PolicyType)
	require.Equal(t, removed["id"], byKind[drift.Removed].PolicyID)
	ch := byKind[drift.Changed]
	require.Equal(t, changed["id"], ch.PolicyID)
	require.Equal(t, []drift.Change{{Field: "displayName", Before: dcs[3]["displayName"], After: "Renamed by an admin"}}[0].Field, ch.Changes[0].Field)
	require.Len(t, ch.Changes, 1, "only the renamed field: %+v", ch.Changes)
	require.Equal(t, "Renamed by an admin", ch.Changes[0].After)
	require.NotEqual(t, "Renamed by an admin", ch.Changes[0].Before)

	rep, err := e.App.Drift.Report(e.Ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, drift.Report{RunID: run.ID, TenantID: e.Tenant, BaselineSnapshotID: snap.ID, CurrentSnapshotID: monotest.Link(t, second, operations.LinkInventorySnapshot),
		GeneratedAt: rep.GeneratedAt, Added: 1, Removed: 1, Changed: 1}, rep)
	latest, lf, err := e.App.Drift.LatestFindings(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, rep, latest)
	require.Equal(t, findings, lf)
	// The run kept the findings' lifecycle current: one open finding per policy and
	// field, and nothing left for the backfill runbook to do.
	life, err := e.App.Drift.FindingLifecycles(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Len(t, life, 3)
	for _, l := range life {
		require.Equal(t, "open", l.Status)
		require.Equal(t, run.ID, l.LastRunID)
		require.Equal(t, 1, l.Occurrences)
	}
	keys := map[string]bool{}
	for _, l := range life {
		keys[l.FieldKey] = true
	}
	require.Equal(t, map[string]bool{"@added": true, "@removed": true, "displayName": true}, keys)
	pf, err := e.App.Drift.PreflightLifecycle(e.Ctx, e.Tenant)
	require.NoError(t, err)
	require.Equal(t, drift.BackfillCounts{Total: 3, Changed: 0}, pf)
	var events int
	require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT count(*) FROM es_events WHERE data::text LIKE '%Renamed by an admin%'`).Scan(&events))
	require.Zero(t, events, "observed data stays in the module's tables")
}
