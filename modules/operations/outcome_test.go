package operations_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestStartOutcomeNamesConnectionAndActions: every start answers spec 216's whole
// ProviderStartOutcome (verb, target, the connection it is on, the actions), and a start
// naming a second connection is a start of its own, not a duplicate of the default's
// active run (its scope is another connection).
func TestStartOutcomeNamesConnectionAndActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	second, err := f.ten.AddProviderConnection(f.ctx, "system:test", tenancy.ProviderConnection{TenantID: f.tenant,
		DisplayName: "Second app", EntraTenantID: "a.onmicrosoft.com", ClientID: "second", SecretRef: "env:ATLAS_GRAPH_SECRET_Y"})
	require.NoError(t, err)

	first := f.start(t, "operator", "provider.verify", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, first.Status)
	require.Equal(t, "Verify", first.OperatorVerb)
	require.Equal(t, "provider connection “Graph”", first.OperatorTarget)
	require.Equal(t, &operations.ConnectionRef{ID: f.conn, Provider: "microsoft", Label: "Graph"}, first.ProviderConnection)
	require.Equal(t, []operations.ActionLink{{Label: "View run", Href: first.Run.URL, Kind: "run"},
		{Label: "Open provider connection", Href: operations.ConnectionURL(f.tenant, f.conn), Kind: "provider_connection"}}, first.Actions)

	again := f.start(t, "operator", "provider.verify", f.tenant, `{}`)
	require.Equal(t, operations.StartDeduped, again.Status)
	require.Equal(t, first.Run.ID, again.Run.ID)
	require.Equal(t, first.ProviderConnection, again.ProviderConnection)

	out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "provider.verify", TenantID: f.tenant, ProviderConnectionID: second.ID,
		Initiator: f.initiator("operator"), SourceSurface: "test"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status, "another connection is another start: %s", out.OperatorMessage)
	require.NotEqual(t, first.Run.ID, out.Run.ID)
	require.Equal(t, second.ID, out.ProviderConnection.ID)
	require.Equal(t, "provider connection “Second app”", out.OperatorTarget)
	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, second.ID, run.ProviderConnectionID)

	// A type that is not provider-backed names no connection (and a connection id given
	// anyway does not make a second run of the same start); a blocked start its run.
	drift := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	dup, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.tenant, ProviderConnectionID: second.ID,
		Initiator: f.initiator("operator"), SourceSurface: "test"})
	require.NoError(t, err)
	require.Equal(t, operations.StartDeduped, dup.Status)
	require.Equal(t, drift.Run.ID, dup.Run.ID)
	require.Equal(t, "Generate", drift.OperatorVerb)
	require.Nil(t, drift.ProviderConnection)
	require.Equal(t, []operations.ActionLink{{Label: "View run", Href: drift.Run.URL, Kind: "run"}}, drift.Actions)
	blocked := f.start(t, "operator", "inventory.sync", f.bare, `{}`)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Nil(t, blocked.ProviderConnection, "the tenant has none")
	require.Len(t, blocked.Actions, 1)

	// The connection page starts the provider-backed types that need no context.
	for typ, want := range map[string]bool{"provider.verify": true, "inventory.sync": true, "directory.groups.sync": true,
		"directory.role_definitions.sync": true, "drift.generate": false, "backup_set.add_policies": false, "restore.execute": false} {
		info, _ := operations.LookupType(typ)
		require.Equal(t, want, info.StartsFrom(operations.SurfaceConnectionPage), typ)
	}
}
