package operations_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestPreconditionBlocksAtTheGate: a type's precondition answering a *RunError turns
// the start into a blocked run with that reason and its next step; nothing is
// dispatched, and the start is accepted once the precondition holds.
func TestPreconditionBlocksAtTheGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	holds := false
	var seen operations.StartRequest
	f.ops.Precondition("drift.generate", func(ctx context.Context, req operations.StartRequest) (*operations.RunError, error) {
		seen = req
		if holds {
			return nil, nil
		}
		return &operations.RunError{Code: operations.ReasonDriftBaselineMissing, Message: "The tenant has 1 of the 2 inventory snapshots drift compares."}, nil
	})
	out := f.start(t, "operator", "drift.generate", f.bare, `{}`)
	require.Equal(t, operations.StartBlocked, out.Status)
	require.Equal(t, operations.ReasonDriftBaselineMissing, out.ReasonCode)
	require.Equal(t, "Inventory baseline missing", out.ShortReason)
	require.Contains(t, out.OperatorMessage, "1 of the 2 inventory snapshots")
	_, next := operations.ReasonInfo(operations.ReasonDriftBaselineMissing)
	require.Equal(t, next, out.NextSteps[0].Label)
	require.Equal(t, f.bare, seen.TenantID)
	require.Equal(t, f.workspace, seen.WorkspaceID)
	require.Zero(t, f.dispatched(t, out.Run.ID))
	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.OutcomeBlocked, run.Outcome)
	require.Equal(t, operations.ReasonDriftBaselineMissing, run.ReasonCode)

	holds = true
	accepted := f.start(t, "operator", "drift.generate", f.bare, `{}`)
	require.Equal(t, operations.StartAccepted, accepted.Status)

	// While that run is active, the same start is deduped even when the precondition
	// fails again: an active run answers before a precondition (no blocked run is
	// recorded beside an active one).
	holds = false
	again := f.start(t, "operator", "drift.generate", f.bare, `{}`)
	require.Equal(t, operations.StartDeduped, again.Status)
	require.Equal(t, accepted.Run.ID, again.Run.ID)
	holds = true

	// Authorization comes first: a readonly member is refused, the precondition not asked.
	seen = operations.StartRequest{}
	_, err = f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.bare, Initiator: f.initiator("readonly")})
	require.ErrorIs(t, err, operations.ErrForbidden)
	require.Equal(t, uuid.Nil, seen.TenantID)

	// A failing precondition fails the start; nothing is recorded.
	g := newFixture(t, pgtest.DB(t))
	g.ops.Precondition("drift.generate", func(context.Context, operations.StartRequest) (*operations.RunError, error) {
		return nil, errors.New("inventory unreachable")
	})
	_, err = g.ops.Start(g.ctx, operations.StartRequest{Type: "drift.generate", TenantID: g.tenant, Initiator: g.initiator("operator")})
	require.ErrorContains(t, err, "inventory unreachable")
}

// TestContextValidator: a type's context validator turns a bad context into
// ErrInvalidContext (422 at the API) before anything is recorded.
func TestContextValidator(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	var got json.RawMessage
	f.ops.ValidateContext("backup_set.add_policies", func(c json.RawMessage) error {
		got = c
		var v struct{ Policies []any }
		if err := json.Unmarshal(c, &v); err != nil || len(v.Policies) == 0 {
			return errors.New("name at least one policy")
		}
		return nil
	})
	_, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "backup_set.add_policies", TenantID: f.tenant,
		Context: []byte(`{ "policies": [] }`), Initiator: f.initiator("operator")})
	require.ErrorIs(t, err, operations.ErrInvalidContext)
	require.ErrorContains(t, err, "name at least one policy")
	require.JSONEq(t, `{"policies":[]}`, string(got), "the validator sees the canonical context")
	var runs int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE tenant_id = $1`, f.tenant).Scan(&runs))
	require.Zero(t, runs)
	require.Equal(t, operations.StartAccepted, f.start(t, "operator", "backup_set.add_policies", f.tenant, `{"policies":[{"type":"a","id":"x"}]}`).Status)
}

// TestVerifyStartsOnABrokenConnection: provider.verify is how a connection recovers, so
// it starts whatever the last check recorded, except on a disabled connection.
func TestVerifyStartsOnABrokenConnection(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	require.NoError(t, f.ten.SetConnectionStatus(f.ctx, "system:test", f.conn, tenancy.ConnectionConsentMissing, "provider_consent_missing"))
	require.Equal(t, operations.StartBlocked, f.start(t, "operator", "inventory.sync", f.tenant, `{}`).Status)
	out := f.start(t, "operator", "provider.verify", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, f.conn, run.ProviderConnectionID)

	g := newFixture(t, pgtest.DB(t))
	require.NoError(t, g.ten.SetConnectionStatus(g.ctx, "system:test", g.conn, tenancy.ConnectionDisabled, "switched off"))
	blocked := g.start(t, "operator", "provider.verify", g.tenant, `{}`)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Equal(t, operations.ReasonProviderConnectionDisabled, blocked.ReasonCode)
}

// TestReporterLink: a handler's Link is one RunLinked event, folded into the run and
// shown first among the type's related pages.
func TestReporterLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	setID := uuid.New()
	f.ops.Handle("backup_set.add_policies", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		require.Error(t, rep.Link(ctx, "bogus", setID))
		require.Error(t, rep.Link(ctx, operations.LinkBackupSet, uuid.Nil))
		if err := rep.Progress(ctx, operations.Counts{"total": 2}); err != nil {
			return "", err
		}
		if err := rep.Link(ctx, operations.LinkBackupSet, setID); err != nil {
			return "", err
		}
		return operations.OutcomeSucceeded, nil
	})
	runWorkers(t, f)
	out := f.start(t, "operator", "backup_set.add_policies", f.tenant, `{"policies":[{"type":"deviceConfigurations","id":"p1"}]}`)
	run := waitTerminal(t, f, out.Run.ID)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome)
	require.Equal(t, []operations.RunLinked{{Kind: operations.LinkBackupSet, ID: setID}}, run.Links)
	require.Equal(t, operations.Counts{"total": 2}, run.Counts)
	types := f.eventTypes(t, out.Run.ID)
	require.Equal(t, []string{"RunQueued", "NotificationSent", "RunStarted", "RunProgressed", "RunLinked", "RunCompleted", "NotificationSent"}, types)
	base := "/admin/t/" + f.tenant.String()
	require.Equal(t, []operations.NextStep{
		{Label: "Tenant operations", Href: base + "/operations"},
		{Label: "Backup set", Href: base + "/backups/" + setID.String()},
		{Label: "Backups", Href: base + "/backups"},
	}, operations.RelatedLinks(run))

	// A drift run links its own findings: the type's page is not repeated.
	drift := &operations.Run{ID: uuid.New(), Type: "drift.generate", TenantID: f.tenant}
	drift.Links = []operations.RunLinked{{Kind: operations.LinkDriftFindings, ID: drift.ID}}
	require.Equal(t, []operations.NextStep{
		{Label: "Tenant operations", Href: base + "/operations"},
		{Label: "Drift findings", Href: base + "/drift?run=" + drift.ID.String()},
	}, operations.RelatedLinks(drift))
}

// TestBlockedOperatorMessageIsSanitized: a precondition's message built from a provider
// error reaches the start outcome's operator message only sanitized, as it reaches the
// stored run.
func TestBlockedOperatorMessageIsSanitized(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	f.ops.Precondition("drift.generate", func(context.Context, operations.StartRequest) (*operations.RunError, error) {
		return &operations.RunError{Code: operations.ReasonDriftBaselineMissing,
			Message: "inventory said 401: {\"client_secret\": \"Zx8Q~s3cr3t.V4lue\"}\nAuthorization: Bearer abcdefghijklmnop"}, nil
	})
	out := f.start(t, "operator", "drift.generate", f.bare, `{}`)
	require.Equal(t, operations.StartBlocked, out.Status)
	for _, leak := range []string{"Zx8Q~s3cr3t.V4lue", "abcdefghijklmnop", "\n"} {
		require.NotContains(t, out.OperatorMessage, leak)
	}
	require.Contains(t, out.OperatorMessage, "Drift generation was blocked: inventory said 401")
	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.NotContains(t, run.Message, "Zx8Q~s3cr3t.V4lue")
}
