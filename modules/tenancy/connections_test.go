package tenancy_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

func connection(tenantID uuid.UUID, name, secretRef string) tenancy.ProviderConnection {
	return tenancy.ProviderConnection{
		TenantID:      tenantID,
		DisplayName:   name,
		EntraTenantID: "contoso.onmicrosoft.com",
		ClientID:      "7f4b1c2e-0000-4000-8000-000000000001",
		SecretRef:     secretRef,
		GraphBaseURL:  "http://127.0.0.1:18080/",
	}
}

func TestProviderConnections(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ws := b.workspace(t)
	tn, bare := b.tenant(t, ws), b.tenant(t, ws)
	secretRef := "env:ATLAS_GRAPH_SECRET_" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", ""))

	_, err := b.svc.DefaultConnection(b.ctx, tn.ID)
	require.ErrorIs(t, err, tenancy.ErrNotFound)

	first, err := b.svc.AddProviderConnection(b.ctx, sys, connection(tn.ID, "Primary", secretRef))
	require.NoError(t, err)
	require.True(t, first.IsDefault, "the first connection becomes the default")
	require.Equal(t, tenancy.ProviderMicrosoft, first.Provider)
	require.Equal(t, tenancy.ConnectionOK, first.Status)
	require.Equal(t, "http://127.0.0.1:18080", first.GraphBaseURL)
	require.Equal(t, secretRef, first.SecretRef)

	// IsDefault is decided by the service, not the caller.
	in := connection(tn.ID, "Secondary", "")
	in.IsDefault = true
	in.GraphBaseURL = ""
	second, err := b.svc.AddProviderConnection(b.ctx, sys, in)
	require.NoError(t, err)
	require.False(t, second.IsDefault)

	def, err := b.svc.DefaultConnection(b.ctx, tn.ID)
	require.NoError(t, err)
	require.Equal(t, first, def)
	got, err := b.svc.Connection(b.ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, second, got)
	all, err := b.svc.ConnectionsOf(b.ctx, tn.ID)
	require.NoError(t, err)
	require.Equal(t, []tenancy.ProviderConnection{first, second}, all)
	_, err = b.svc.Connection(b.ctx, uuid.New())
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.DefaultConnection(b.ctx, bare.ID)
	require.ErrorIs(t, err, tenancy.ErrNotFound)

	// Status changes.
	require.NoError(t, b.svc.SetConnectionStatus(b.ctx, sys, first.ID, tenancy.ConnectionConsentMissing, "provider_consent_missing"))
	def, err = b.svc.DefaultConnection(b.ctx, tn.ID)
	require.NoError(t, err)
	require.Equal(t, tenancy.ConnectionConsentMissing, def.Status)
	require.Equal(t, "provider_consent_missing", def.StatusReason)
	require.True(t, def.IsDefault, "a broken default stays the default")
	require.False(t, def.UpdatedAt.Before(first.UpdatedAt))
	// The same status and reason again: no change, no event.
	require.NoError(t, b.svc.SetConnectionStatus(b.ctx, sys, first.ID, tenancy.ConnectionConsentMissing, "provider_consent_missing"))
	require.NoError(t, b.svc.SetConnectionStatus(b.ctx, sys, first.ID, tenancy.ConnectionOK, ""))

	require.ErrorIs(t, b.svc.SetConnectionStatus(b.ctx, sys, uuid.New(), tenancy.ConnectionOK, ""), tenancy.ErrNotFound)
	require.ErrorIs(t, b.svc.SetConnectionStatus(b.ctx, sys, first.ID, "broken", ""), tenancy.ErrInvalid)
	require.ErrorIs(t, b.svc.SetConnectionStatus(b.ctx, sys, first.ID, tenancy.ConnectionOK, strings.Repeat("x", 501)), tenancy.ErrInvalid)

	envs := b.events(t, tenancy.StreamProviderConnection, first.ID)
	require.Len(t, envs, 3)
	require.Equal(t, tenancy.ProviderConnectionAdded{ConnectionID: first.ID, TenantID: tn.ID, Provider: "microsoft",
		DisplayName: "Primary", IsDefault: true, Status: tenancy.ConnectionOK, EntraTenantID: "contoso.onmicrosoft.com",
		ClientID: first.ClientID, GraphBaseURL: "http://127.0.0.1:18080", SecretRefSet: true}, envs[0].Data)
	require.Equal(t, tenancy.ProviderConnectionStatusChanged{ConnectionID: first.ID, TenantID: tn.ID,
		From: tenancy.ConnectionOK, To: tenancy.ConnectionConsentMissing, Reason: "provider_consent_missing"}, envs[1].Data)
	require.Equal(t, tenancy.ProviderConnectionStatusChanged{ConnectionID: first.ID, TenantID: tn.ID,
		From: tenancy.ConnectionConsentMissing, To: tenancy.ConnectionOK}, envs[2].Data)
	for _, e := range envs {
		require.Equal(t, ws.ID, e.Metadata.WorkspaceID)
		require.Equal(t, tn.ID, e.Metadata.TenantID)
	}
	require.Equal(t, []string{"ProviderConnectionAdded"}, b.eventTypes(t, tenancy.StreamProviderConnection, second.ID))
	require.False(t, b.events(t, tenancy.StreamProviderConnection, second.ID)[0].Data.(tenancy.ProviderConnectionAdded).SecretRefSet)

	// The secret reference is kept in the table but never recorded in an event.
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx,
		`SELECT count(*) FROM es_events WHERE strpos(data::text, $1) > 0`, secretRef).Scan(&n))
	require.Zero(t, n)
	require.NoError(t, b.pool.QueryRow(b.ctx,
		`SELECT count(*) FROM es_events WHERE strpos(data::text, 'ATLAS_GRAPH_SECRET') > 0 AND stream_id = $1`,
		"providerconnection-"+first.ID.String()).Scan(&n))
	require.Zero(t, n)
}

func TestProviderConnectionValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant(t, b.workspace(t))
	for _, tc := range []struct {
		name   string
		change func(*tenancy.ProviderConnection)
		want   error
	}{
		{"unknown tenant", func(pc *tenancy.ProviderConnection) { pc.TenantID = uuid.New() }, tenancy.ErrNotFound},
		{"other provider", func(pc *tenancy.ProviderConnection) { pc.Provider = "google" }, tenancy.ErrInvalid},
		{"bad status", func(pc *tenancy.ProviderConnection) { pc.Status = "great" }, tenancy.ErrInvalid},
		{"no display name", func(pc *tenancy.ProviderConnection) { pc.DisplayName = "" }, tenancy.ErrInvalid},
		{"no Entra tenant", func(pc *tenancy.ProviderConnection) { pc.EntraTenantID = " " }, tenancy.ErrInvalid},
		{"no client id", func(pc *tenancy.ProviderConnection) { pc.ClientID = "" }, tenancy.ErrInvalid},
		{"relative URL", func(pc *tenancy.ProviderConnection) { pc.GraphBaseURL = "/graph" }, tenancy.ErrInvalid},
		{"ftp URL", func(pc *tenancy.ProviderConnection) { pc.GraphBaseURL = "ftp://graph.example" }, tenancy.ErrInvalid},
		{"URL with credentials", func(pc *tenancy.ProviderConnection) { pc.GraphBaseURL = "https://u:p@graph.example" }, tenancy.ErrInvalid},
		{"URL with query", func(pc *tenancy.ProviderConnection) { pc.GraphBaseURL = "https://graph.example/?key=1" }, tenancy.ErrInvalid},
		{"multi-line secret ref", func(pc *tenancy.ProviderConnection) { pc.SecretRef = "env:A\nB" }, tenancy.ErrInvalid},
		{"plain http off loopback", func(pc *tenancy.ProviderConnection) { pc.GraphBaseURL = "http://graph.example" }, tenancy.ErrInvalid},
		{"plain http to the demo host", func(pc *tenancy.ProviderConnection) { pc.GraphBaseURL = "http://graph-simulator.demo" }, tenancy.ErrInvalid},
		{"a foreign variable", func(pc *tenancy.ProviderConnection) { pc.SecretRef = "env:DATABASE_URL" }, tenancy.ErrInvalid},
		{"a .. escape", func(pc *tenancy.ProviderConnection) { pc.SecretRef = "file:../../etc/passwd" }, tenancy.ErrInvalid},
		{"an absolute file", func(pc *tenancy.ProviderConnection) { pc.SecretRef = "file:/etc/passwd" }, tenancy.ErrInvalid},
		{"no kind", func(pc *tenancy.ProviderConnection) { pc.SecretRef = "hunter2" }, tenancy.ErrInvalid},
	} {
		pc := connection(tn.ID, "C", "")
		tc.change(&pc)
		_, err := b.svc.AddProviderConnection(b.ctx, sys, pc)
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	all, err := b.svc.ConnectionsOf(b.ctx, tn.ID)
	require.NoError(t, err)
	require.Empty(t, all, "nothing was added")
}

func TestProviderConnectionConcurrentAddsHaveOneDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant(t, b.workspace(t))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = b.svc.AddProviderConnection(b.ctx, sys, connection(tn.ID, "C", ""))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	all, err := b.svc.ConnectionsOf(b.ctx, tn.ID)
	require.NoError(t, err)
	require.Len(t, all, n)
	defaults := 0
	for _, pc := range all {
		if pc.IsDefault {
			defaults++
		}
	}
	require.Equal(t, 1, defaults)

	// The partial unique index refuses a second default written behind the service's back.
	_, err = b.pool.Exec(b.ctx, `UPDATE tn_provider_connections SET is_default = true WHERE tenant_id = $1`, tn.ID)
	require.ErrorContains(t, err, "tn_provider_connections_default_key")
}
