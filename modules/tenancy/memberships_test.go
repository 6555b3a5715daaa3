package tenancy_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestMemberships(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ws, other := b.workspace(t), b.workspace(t)
	t1, foreign := b.tenant(t, ws), b.tenant(t, other)
	u := b.user(t)
	admin := tenancy.UserActor(uuid.New())
	grant := func(m tenancy.Membership) error { return b.svc.GrantMembership(b.ctx, admin, m) }

	require.NoError(t, grant(tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleReadonly}))
	// Same role again: nothing changes, nothing is appended.
	require.NoError(t, grant(tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleReadonly}))
	// Upsert: the workspace-level role changes.
	require.NoError(t, grant(tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOperator}))
	// A tenant-level membership beside it.
	require.NoError(t, grant(tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, TenantID: t1.ID, Role: tenancy.RoleManager}))

	ms, err := b.svc.Memberships(b.ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, []tenancy.Membership{
		{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOperator},
		{UserID: u.ID, WorkspaceID: ws.ID, TenantID: t1.ID, Role: tenancy.RoleManager},
	}, ms)

	for _, tc := range []struct {
		name string
		m    tenancy.Membership
		want error
	}{
		{"bad role", tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: "admin"}, tenancy.ErrInvalid},
		{"empty role", tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID}, tenancy.ErrInvalid},
		{"unknown user", tenancy.Membership{UserID: uuid.New(), WorkspaceID: ws.ID, Role: tenancy.RoleOwner}, tenancy.ErrNotFound},
		{"unknown workspace", tenancy.Membership{UserID: u.ID, WorkspaceID: uuid.New(), Role: tenancy.RoleOwner}, tenancy.ErrNotFound},
		{"unknown tenant", tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, TenantID: uuid.New(), Role: tenancy.RoleOwner}, tenancy.ErrNotFound},
		{"tenant of another workspace", tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, TenantID: foreign.ID, Role: tenancy.RoleOwner}, tenancy.ErrInvalid},
	} {
		require.ErrorIs(t, grant(tc.m), tc.want, tc.name)
	}

	// The database refuses a tenant of another workspace even without the Go check.
	_, err = b.pool.Exec(b.ctx, `INSERT INTO tn_memberships (user_id, workspace_id, tenant_id, role, created_at, updated_at)
		VALUES ($1, $2, $3, 'owner', now(), now())`, u.ID, ws.ID, foreign.ID)
	require.ErrorContains(t, err, "tn_memberships_tenant_fkey")

	role, ok, err := b.svc.RoleFor(b.ctx, u.ID, t1.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, tenancy.RoleManager, role)

	// Revoking the tenant-level membership falls back to the workspace-level role.
	require.NoError(t, b.svc.RevokeMembership(b.ctx, admin, u.ID, ws.ID, t1.ID))
	role, _, err = b.svc.RoleFor(b.ctx, u.ID, t1.ID)
	require.NoError(t, err)
	require.Equal(t, tenancy.RoleOperator, role)

	// Revoking the workspace-level one makes the tenant invisible.
	require.NoError(t, b.svc.RevokeMembership(b.ctx, admin, u.ID, ws.ID, uuid.Nil))
	_, d, err := b.svc.Authorize(b.ctx, u.ID, t1.ID, tenancy.CapOperationsView)
	require.NoError(t, err)
	require.Equal(t, tenancy.NotFound, d)
	require.ErrorIs(t, b.svc.RevokeMembership(b.ctx, admin, u.ID, ws.ID, uuid.Nil), tenancy.ErrNotFound)
	require.ErrorIs(t, b.svc.RevokeMembership(b.ctx, admin, u.ID, uuid.New(), uuid.Nil), tenancy.ErrNotFound)

	envs := b.events(t, tenancy.StreamWorkspace, ws.ID)
	var got []any
	for _, e := range envs[1:] {
		got = append(got, e.Data)
		require.Equal(t, admin, e.Metadata.Actor)
		require.Equal(t, ws.ID, e.Metadata.WorkspaceID)
	}
	require.Equal(t, []any{
		tenancy.MembershipGranted{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleReadonly},
		tenancy.MembershipGranted{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOperator, PreviousRole: tenancy.RoleReadonly},
		tenancy.MembershipGranted{UserID: u.ID, WorkspaceID: ws.ID, TenantID: t1.ID, Role: tenancy.RoleManager},
		tenancy.MembershipRevoked{UserID: u.ID, WorkspaceID: ws.ID, TenantID: t1.ID, Role: tenancy.RoleManager},
		tenancy.MembershipRevoked{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOperator},
	}, got)
	require.Equal(t, t1.ID, envs[3].Metadata.TenantID, "a tenant-level grant names its tenant")
	require.Equal(t, uuid.Nil, envs[1].Metadata.TenantID)

	var raw string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT data::text FROM es_events WHERE event_id = $1`, envs[1].EventID).Scan(&raw))
	require.NotContains(t, raw, "tenantId", "a workspace-level grant has no tenantId")
	require.NotContains(t, raw, "previousRole")
}
