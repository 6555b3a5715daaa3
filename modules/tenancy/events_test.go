package tenancy_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestEveryMutationAppendsOneEvent runs every command on a database of its own and
// checks, after each, that exactly one event was appended to the whole log, of the
// right type, on the right stream, with the actor in its metadata; and that no-op
// commands and failed commands append nothing.
func TestEveryMutationAppendsOneEvent(t *testing.T) {
	t.Parallel()
	b := setupFresh(t)
	const actor = "system:events-test"

	count := func() int {
		var n int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events`).Scan(&n))
		return n
	}
	before := 0
	// expect asserts that the last step appended exactly one event, of type typ, as
	// the newest event of stream.
	expect := func(typ, streamType string, id uuid.UUID) {
		t.Helper()
		require.Equal(t, before+1, count(), "%s appended exactly one event", typ)
		before++
		envs := b.events(t, streamType, id)
		require.NotEmpty(t, envs)
		last := envs[len(envs)-1]
		require.Equal(t, typ, last.Type)
		require.Equal(t, actor, last.Metadata.Actor)
		require.Equal(t, 1, last.SchemaVersion)
	}
	expectNone := func(what string) {
		t.Helper()
		require.Equal(t, before, count(), "%s appended nothing", what)
	}

	ws, err := b.svc.CreateWorkspace(b.ctx, actor, "Events")
	require.NoError(t, err)
	expect("WorkspaceCreated", "workspace", ws.ID)

	tn, err := b.svc.AddTenant(b.ctx, actor, ws.ID, "Tenant", "tenant.onmicrosoft.com")
	require.NoError(t, err)
	expect("TenantAdded", "tenant", tn.ID)

	u, err := b.svc.RegisterUser(b.ctx, actor, "events@example.com", "Events", testPassword)
	require.NoError(t, err)
	expect("UserRegistered", "user", u.ID)

	m := tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOwner}
	require.NoError(t, b.svc.GrantMembership(b.ctx, actor, m))
	expect("MembershipGranted", "workspace", ws.ID)
	require.NoError(t, b.svc.GrantMembership(b.ctx, actor, m))
	expectNone("granting the same role again")

	require.NoError(t, b.svc.RevokeMembership(b.ctx, actor, u.ID, ws.ID, uuid.Nil))
	expect("MembershipRevoked", "workspace", ws.ID)

	// Token commands append their event and one audit entry each (on the token).
	expectToken := func(typ string, id uuid.UUID, action string) {
		t.Helper()
		require.Equal(t, before+2, count(), "%s appended its event and an audit entry", typ)
		before++
		expect(typ, "user", u.ID) // counts the event itself
		var n int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
			AND data->>'action' = $1 AND data->>'target' = $2 AND actor = $3`, action, "token:"+id.String(), actor).Scan(&n))
		require.Equal(t, 1, n, "one %s audit entry", action)
	}
	plain, tokenID, err := b.svc.IssueToken(b.ctx, actor, u.ID, "t")
	require.NoError(t, err)
	expectToken("APITokenIssued", tokenID, tenancy.ActionTokenCreate)
	_, err = b.svc.AuthenticateToken(b.ctx, plain)
	require.NoError(t, err)
	expectNone("authenticating")

	imported := tenancy.TokenPrefix + "imported_token_for_the_events_test_0001"
	importedID, err := b.svc.ImportToken(b.ctx, actor, u.ID, "demo", imported)
	require.NoError(t, err)
	expectToken("APITokenIssued", importedID, tenancy.ActionTokenCreate)
	_, err = b.svc.ImportToken(b.ctx, actor, u.ID, "demo", imported)
	require.NoError(t, err)
	expectNone("importing the same token again")

	require.NoError(t, b.svc.RevokeToken(b.ctx, actor, tokenID))
	expectToken("APITokenRevoked", tokenID, tenancy.ActionTokenRevoke)
	require.NoError(t, b.svc.RevokeToken(b.ctx, actor, tokenID))
	expectNone("revoking again")

	pc, err := b.svc.AddProviderConnection(b.ctx, actor, connection(tn.ID, "C", "env:ATLAS_GRAPH_SECRET_X"))
	require.NoError(t, err)
	expect("ProviderConnectionAdded", "providerconnection", pc.ID)

	require.NoError(t, b.svc.SetConnectionStatus(b.ctx, actor, pc.ID, tenancy.ConnectionDisabled, "operator"))
	expect("ProviderConnectionStatusChanged", "providerconnection", pc.ID)
	require.NoError(t, b.svc.SetConnectionStatus(b.ctx, actor, pc.ID, tenancy.ConnectionDisabled, "operator"))
	expectNone("setting the same status again")

	require.NoError(t, b.svc.SetConnectionEndpoint(b.ctx, actor, pc.ID, "http://127.0.0.1:18081/"))
	expect("ProviderConnectionEndpointChanged", "providerconnection", pc.ID)
	require.NoError(t, b.svc.SetConnectionEndpoint(b.ctx, actor, pc.ID, "http://127.0.0.1:18081"))
	expectNone("setting the same endpoint again")
	got, err := b.svc.Connection(b.ctx, pc.ID)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:18081", got.GraphBaseURL)
	require.ErrorIs(t, b.svc.SetConnectionEndpoint(b.ctx, actor, pc.ID, "ftp://x"), tenancy.ErrInvalid)
	require.ErrorIs(t, b.svc.SetConnectionEndpoint(b.ctx, actor, pc.ID, "http://graph.example"), tenancy.ErrInvalid)
	require.ErrorIs(t, b.svc.SetConnectionEndpoint(b.ctx, actor, uuid.New(), ""), tenancy.ErrNotFound)
	expectNone("refused endpoint changes")

	// The session-ending commands append their event and one audit entry each.
	expectAudited := func(typ, who string, id uuid.UUID, action string) {
		t.Helper()
		require.Equal(t, before+2, count(), "%s appended its event and an audit entry", typ)
		before += 2
		envs := b.events(t, "user", id)
		last := envs[len(envs)-1]
		require.Equal(t, typ, last.Type)
		require.Equal(t, who, last.Metadata.Actor)
		var n int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
			AND data->>'action' = $1 AND data->>'target' = $2 AND actor = $3`, action, "user:"+id.String(), who).Scan(&n))
		require.Equal(t, 1, n, "one %s audit entry", action)
	}
	_, err = b.svc.SetPassword(b.ctx, actor, "Events@example.com", "another long password")
	require.NoError(t, err)
	expectAudited("UserPasswordChanged", actor, u.ID, tenancy.ActionUserPassword)
	_, err = b.svc.SetPassword(b.ctx, actor, "events@example.com", "too short")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	expectNone("a refused password")
	require.NoError(t, b.svc.Logout(b.ctx, u.ID, tenancy.Origin{IP: "192.0.2.7", UserAgent: "test"}))
	expectAudited("UserSessionsRevoked", tenancy.UserActor(u.ID), u.ID, tenancy.ActionLogout)
	_, err = b.svc.DisableUser(b.ctx, actor, "events@example.com")
	require.NoError(t, err)
	expectAudited("UserDisabled", actor, u.ID, tenancy.ActionUserDisable)
	_, err = b.svc.DisableUser(b.ctx, actor, "events@example.com")
	require.NoError(t, err)
	expectNone("disabling again")

	// Platform users: created, logged out and disabled, each with its audit entry.
	expectPlatform := func(typ, who string, id uuid.UUID, action string) {
		t.Helper()
		require.Equal(t, before+2, count(), "%s appended its event and an audit entry", typ)
		before += 2
		envs := b.events(t, tenancy.StreamPlatformUser, id)
		last := envs[len(envs)-1]
		require.Equal(t, typ, last.Type)
		require.Equal(t, who, last.Metadata.Actor)
		var n int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
			AND data->>'action' = $1 AND data->>'target' = $2 AND actor = $3`, action, tenancy.PlatformActor(id), who).Scan(&n))
		require.Equal(t, 1, n, "one %s audit entry", action)
	}
	pu, err := b.svc.CreatePlatformUser(b.ctx, actor, tenancy.NewPlatformUser{Email: "ops@example.com", Password: testPassword,
		Capabilities: []tenancy.PlatformCapability{tenancy.PlatformOpsView}})
	require.NoError(t, err)
	expectPlatform("PlatformUserCreated", actor, pu.ID, tenancy.ActionPlatformUserCreate)
	require.NoError(t, b.svc.PlatformLogout(b.ctx, pu.ID, tenancy.Origin{IP: "192.0.2.8"}))
	expectPlatform("PlatformUserSessionsRevoked", tenancy.PlatformActor(pu.ID), pu.ID, tenancy.ActionPlatformLogout)
	_, err = b.svc.DisablePlatformUser(b.ctx, actor, "OPS@example.com")
	require.NoError(t, err)
	expectPlatform("PlatformUserDisabled", actor, pu.ID, tenancy.ActionPlatformUserDisable)
	_, err = b.svc.DisablePlatformUser(b.ctx, actor, "ops@example.com")
	require.NoError(t, err)
	expectNone("disabling a platform user again")
	_, err = b.svc.CreatePlatformUser(b.ctx, actor, tenancy.NewPlatformUser{Email: "ops@example.com", Password: testPassword})
	require.ErrorIs(t, err, tenancy.ErrConflict)
	expectNone("a duplicate platform user")

	// Failed commands append nothing and leave no rows.
	_, err = b.svc.CreateWorkspace(b.ctx, actor, "Events")
	require.ErrorIs(t, err, tenancy.ErrConflict)
	_, err = b.svc.RegisterUser(b.ctx, actor, "EVENTS@example.com", "Dup", testPassword)
	require.ErrorIs(t, err, tenancy.ErrConflict)
	require.ErrorIs(t, b.svc.GrantMembership(b.ctx, actor, tenancy.Membership{UserID: uuid.New(), WorkspaceID: ws.ID, Role: tenancy.RoleOwner}), tenancy.ErrNotFound)
	expectNone("failed commands")

	// Every event type the module registers was exercised, and each decodes.
	reg := eventstore.NewRegistry()
	tenancy.RegisterEvents(reg)
	var types []string
	rows, err := b.pool.Query(b.ctx, `SELECT DISTINCT event_type FROM es_events WHERE event_type <> 'AuditRecorded' ORDER BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		types = append(types, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, reg.Types(), types)
}
