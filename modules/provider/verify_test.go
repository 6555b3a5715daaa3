package provider_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestReasonFor(t *testing.T) {
	t.Parallel()
	for kind, want := range map[graph.Kind]failure.Code{
		graph.KindConsentMissing:   failure.ProviderConsentMissing,
		graph.KindPermissionDenied: failure.ProviderPermissionDenied,
		graph.KindThrottled:        failure.GraphThrottled,
		graph.KindUnavailable:      failure.GraphUnavailable,
		graph.KindTimeout:          failure.GraphTimeout,
		graph.KindContractMissing:  failure.GraphContractMissing,
		graph.KindInvalidClient:    failure.ProviderConnectionInvalid,
		graph.KindNotFound:         failure.GraphRequestFailed,
		graph.KindRequestFailed:    failure.GraphRequestFailed,
		"something new":            failure.GraphRequestFailed,
	} {
		require.Equal(t, want, provider.ReasonFor(kind), kind)
		require.True(t, want.Known())
	}
}

// TestVerify: provider.verify against the simulator records ok / consent_missing /
// permission_denied on the connection, links it, and the gate follows the status.
func TestVerify(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	conn := func() tenancy.ProviderConnection {
		pc, err := e.App.Tenancy.Connection(e.Ctx, e.Conn)
		require.NoError(t, err)
		return pc
	}

	ok := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, ok.Outcome, ok.Message)
	require.Equal(t, operations.Counts{"total": 6, "processed": 6, "succeeded": 6}, ok.Counts)
	require.Equal(t, e.Conn, monotest.Link(t, ok, operations.LinkProviderConnection))
	require.Equal(t, tenancy.ConnectionOK, conn().Status)

	// Consent missing: the run fails with the matching reason, the connection says so,
	// and the next provider-backed start is blocked with next steps.
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{ConsentMissing: true})
	denied := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeFailed, denied.Outcome)
	require.Equal(t, failure.ProviderConsentMissing, denied.ReasonCode, denied.Message)
	require.Equal(t, tenancy.ConnectionConsentMissing, conn().Status)
	require.Equal(t, "provider_consent_missing", conn().StatusReason)
	blocked := e.Start(t, "inventory.sync", `{}`)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Equal(t, failure.ProviderConsentMissing, blocked.ReasonCode)
	require.NotEmpty(t, blocked.NextSteps)

	// One permission missing: the probes name it.
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{PermissionDenied: []string{"deviceConfigurations"}})
	perm := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, failure.ProviderPermissionDenied, perm.ReasonCode)
	require.Contains(t, perm.Message, "deviceConfigurations")
	require.Equal(t, operations.Counts{"total": 6, "processed": 6, "succeeded": 5, "failed": 1}, perm.Counts)
	require.Len(t, perm.Failures, 1)
	require.Equal(t, failure.ProviderPermissionDenied, perm.Failures[0].ReasonCode)
	require.Equal(t, tenancy.ConnectionPermissionDenied, conn().Status)
	require.Contains(t, conn().StatusReason, "deviceConfigurations")
	require.Equal(t, failure.ProviderPermissionDenied, e.Start(t, "directory.groups.sync", `{}`).ReasonCode)

	// Fixed in the tenant: verification passes and starts are accepted again.
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{})
	again := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, again.Outcome)
	require.Equal(t, tenancy.ConnectionOK, conn().Status)
	require.Equal(t, operations.StartAccepted, e.Start(t, "directory.role_definitions.sync", `{}`).Status)
}

// TestTokenNeverLeaks: the simulator echoes the bearer token and the client secret in
// its error bodies; neither reaches an event, a table row or a log line.
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{LeakToken: true, PermissionDenied: []string{"groups", "compliancePolicies"}})
	perm := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, failure.ProviderPermissionDenied, perm.ReasonCode)
	require.Len(t, perm.Failures, 2)

	// Reset by hand so the gate lets the syncs run into the same faults.
	require.NoError(t, e.App.Tenancy.SetConnectionStatus(e.Ctx, "system:test", e.Conn, tenancy.ConnectionOK, "reset by test"))
	inv := e.Run(t, "inventory.sync", `{}`)
	require.Equal(t, operations.OutcomePartiallySucceeded, inv.Outcome, "one policy type refused, two listed")
	require.Len(t, inv.Failures, 1)
	require.Equal(t, failure.ProviderPermissionDenied, inv.Failures[0].ReasonCode)

	require.NoError(t, e.App.Tenancy.SetConnectionStatus(e.Ctx, "system:test", e.Conn, tenancy.ConnectionOK, "reset by test"))
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{LeakToken: true, Unavailable: 1000})
	down := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, failure.GraphUnavailable, down.ReasonCode, down.Message)

	require.Positive(t, e.Sim.Requests(), "the simulator answered")
	// The search finds what is there (the connection's secret reference, the failures)…
	rows, _ := e.Occurrences(t, monotest.SecretRef)
	require.Positive(t, rows)
	rows, _ = e.Occurrences(t, "provider_permission_denied")
	require.Positive(t, rows)
	_, lines := e.Occurrences(t, "graph_unavailable")
	require.Positive(t, lines)
	// …and never the token or the secret.
	e.RequireNoLeak(t, monotest.TokenPrefix, e.Sim.Config().ClientSecret)
}

// TestVerifyInvalidCredentials: a connection whose secret Graph refuses fails
// verification with provider_connection_invalid, is recorded as invalid_credentials, and
// the next provider-backed start on it is blocked; verification may still be started on
// it (to recover once the secret is fixed).
func TestVerifyInvalidCredentials(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	bad, err := e.App.Tenancy.AddProviderConnection(e.Ctx, "system:test", tenancy.ProviderConnection{TenantID: e.Tenant,
		DisplayName: "Wrong secret", EntraTenantID: e.EntraTenant, ClientID: "atlas-test",
		SecretRef: "env:ATLAS_GRAPH_SECRET_NO_SUCH", GraphBaseURL: e.Sim.URL})
	require.NoError(t, err)
	start := func(typ string) operations.StartOutcome {
		out, err := e.App.Operations.Start(e.Ctx, operations.StartRequest{Type: typ, TenantID: e.Tenant, ProviderConnectionID: bad.ID,
			Initiator: operations.Initiator{Kind: "user", UserID: e.Operator.ID, Name: e.Operator.Email}, SourceSurface: "test"})
		require.NoError(t, err)
		return out
	}
	out := start("provider.verify")
	require.Equal(t, operations.StartAccepted, out.Status)
	run := e.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomeFailed, run.Outcome)
	require.Equal(t, failure.ProviderConnectionInvalid, run.ReasonCode, run.Message)
	pc, err := e.App.Tenancy.Connection(e.Ctx, bad.ID)
	require.NoError(t, err)
	require.Equal(t, tenancy.ConnectionInvalidCredentials, pc.Status)

	blocked := start("inventory.sync")
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Equal(t, failure.ProviderConnectionInvalid, blocked.ReasonCode)
	require.Equal(t, operations.StartAccepted, start("provider.verify").Status, "verification can still run")
	require.Equal(t, operations.StartAccepted, e.Start(t, "inventory.sync", `{}`).Status, "the tenant's good connection is unaffected")
}

// TestGateRefusesConnectionsBreakingTheRules: a connection row written before the
// rules (a foreign env: variable, a .. escape, plain http off loopback), or aimed at the
// demo Graph in a process that does not serve it, blocks provider-backed starts at the
// gate with provider_connection_invalid and a clear message, verification included;
// nothing is dispatched and the token endpoint is never asked.
func TestGateRefusesConnectionsBreakingTheRules(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	for _, tc := range []struct {
		name, column, value, want string
	}{
		{"a foreign variable", "secret_ref", "env:DATABASE_URL", "client secret reference was refused"},
		{"a .. escape", "secret_ref", "file:../../etc/passwd", "client secret reference was refused"},
		{"plain http off loopback", "graph_base_url", "http://graph.example", "must use https"},
		{"the demo Graph", "graph_base_url", monolith.DemoGraphURL, "demo Graph simulator"},
	} {
		pc, err := e.App.Tenancy.AddProviderConnection(e.Ctx, "system:test", tenancy.ProviderConnection{TenantID: e.Tenant,
			DisplayName: tc.name, EntraTenantID: e.EntraTenant, ClientID: "atlas-test", SecretRef: monotest.SecretRef, GraphBaseURL: e.Sim.URL})
		require.NoError(t, err)
		_, err = e.Pool.Exec(e.Ctx, `UPDATE tn_provider_connections SET `+tc.column+` = $2 WHERE id = $1`, pc.ID, tc.value)
		require.NoError(t, err)
		for _, typ := range []string{"inventory.sync", "provider.verify"} {
			out, err := e.App.Operations.Start(e.Ctx, operations.StartRequest{Type: typ, TenantID: e.Tenant, ProviderConnectionID: pc.ID,
				Initiator: operations.Initiator{Kind: "user", UserID: e.Operator.ID, Name: e.Operator.Email}, SourceSurface: "test"})
			require.NoError(t, err)
			require.Equal(t, operations.StartBlocked, out.Status, "%s: %s", tc.name, typ)
			require.Equal(t, failure.ProviderConnectionInvalid, out.ReasonCode, tc.name)
			require.Contains(t, out.OperatorMessage, tc.want, tc.name)
			require.NotContains(t, out.OperatorMessage, tc.value, "the reference itself is not repeated")
		}
	}
	require.Zero(t, e.Sim.TokenRequests())
	require.Zero(t, e.Sim.Requests())
	require.Equal(t, operations.StartAccepted, e.Start(t, "inventory.sync", `{}`).Status, "the tenant's good connection is unaffected")
}
