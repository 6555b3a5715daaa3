package tenancy_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestWorkspacesAndTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := uniq("Contoso MSP")
	ws, err := b.svc.CreateWorkspace(b.ctx, sys, "  "+name+" ")
	require.NoError(t, err)
	require.Equal(t, name, ws.Name)
	require.WithinDuration(t, time.Now(), ws.CreatedAt, time.Minute)

	got, err := b.svc.Workspace(b.ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, ws, got)
	got, err = b.svc.WorkspaceByName(b.ctx, name)
	require.NoError(t, err)
	require.Equal(t, ws, got)
	_, err = b.svc.Workspace(b.ctx, uuid.New())
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.WorkspaceByName(b.ctx, uniq("none"))
	require.ErrorIs(t, err, tenancy.ErrNotFound)

	_, err = b.svc.CreateWorkspace(b.ctx, sys, name)
	require.ErrorIs(t, err, tenancy.ErrConflict)
	_, err = b.svc.CreateWorkspace(b.ctx, sys, " ")
	require.ErrorIs(t, err, tenancy.ErrInvalid)

	empty, err := b.svc.TenantsOf(b.ctx, ws.ID)
	require.NoError(t, err)
	require.Empty(t, empty)
	require.NotNil(t, empty)

	zeta, err := b.svc.AddTenant(b.ctx, sys, ws.ID, "Zeta", "zeta.onmicrosoft.com")
	require.NoError(t, err)
	alpha, err := b.svc.AddTenant(b.ctx, sys, ws.ID, "Alpha", "0b7c5c33-4b43-4c6e-9b7e-6f2b0f3c1a11")
	require.NoError(t, err)
	require.Equal(t, ws.ID, alpha.WorkspaceID)
	require.Equal(t, "0b7c5c33-4b43-4c6e-9b7e-6f2b0f3c1a11", alpha.ExternalTenantID)

	tn, err := b.svc.Tenant(b.ctx, zeta.ID)
	require.NoError(t, err)
	require.Equal(t, zeta, tn)
	list, err := b.svc.TenantsOf(b.ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, []tenancy.Tenant{alpha, zeta}, list, "sorted by name")

	_, err = b.svc.Tenant(b.ctx, uuid.New())
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.TenantsOf(b.ctx, uuid.New())
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.AddTenant(b.ctx, sys, ws.ID, "Zeta", "other.onmicrosoft.com")
	require.ErrorIs(t, err, tenancy.ErrConflict, "tenant names are unique per workspace")
	_, err = b.svc.AddTenant(b.ctx, sys, uuid.New(), "Ghost", "ghost.onmicrosoft.com")
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.AddTenant(b.ctx, sys, ws.ID, "NoExternal", " ")
	require.ErrorIs(t, err, tenancy.ErrInvalid)

	// Another workspace may reuse a tenant name.
	other := b.workspace(t)
	_, err = b.svc.AddTenant(b.ctx, sys, other.ID, "Zeta", "zeta.onmicrosoft.com")
	require.NoError(t, err)

	wsEvents := b.events(t, tenancy.StreamWorkspace, ws.ID)
	require.Len(t, wsEvents, 1)
	require.Equal(t, tenancy.WorkspaceCreated{WorkspaceID: ws.ID, Name: name}, wsEvents[0].Data)
	require.Equal(t, ws.ID, wsEvents[0].Metadata.WorkspaceID)

	tnEvents := b.events(t, tenancy.StreamTenant, zeta.ID)
	require.Len(t, tnEvents, 1)
	require.Equal(t, tenancy.TenantAdded{TenantID: zeta.ID, WorkspaceID: ws.ID, Name: "Zeta",
		ExternalTenantID: "zeta.onmicrosoft.com"}, tnEvents[0].Data)
	require.Equal(t, ws.ID, tnEvents[0].Metadata.WorkspaceID)
	require.Equal(t, zeta.ID, tnEvents[0].Metadata.TenantID)
}

func TestClockIsInjected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	at := time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.FixedZone("CET", 3600))
	svc := tenancy.New(b.pool, b.store, tenancy.Options{Now: func() time.Time { return at }})
	ws, err := svc.CreateWorkspace(b.ctx, sys, uniq("clock"))
	require.NoError(t, err)
	want := at.UTC().Truncate(time.Microsecond)
	require.Equal(t, want, ws.CreatedAt)
	got, err := svc.Workspace(b.ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, want, got.CreatedAt)
}
