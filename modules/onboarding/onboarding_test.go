package onboarding_test

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/onboarding"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestAdvanceAdmitsOneAtATime: with the workers off, concurrent advances admit exactly
// one bootstrap operation while the previous is active and exactly one once it ended;
// a bad selection is ErrInvalid and leaves the session untouched; a bad connection
// leaves no tenant behind.
func TestAdvanceAdmitsOneAtATime(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.DB(t), monotest.Options{NoWorkers: true})
	ctx := e.Ctx
	owner, err := e.App.Tenancy.RegisterUser(ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "Owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, e.App.Tenancy.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: owner.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleOwner}))
	who := operations.Initiator{Kind: "user", UserID: owner.ID, Name: owner.Email}
	svc := e.App.Onboarding

	_, err = svc.Create(ctx, owner.ID, onboarding.NewTenant{WorkspaceID: e.Workspace, TenantName: "Litware", EntraTenantID: uuid.NewString(),
		ClientID: "litware-app", SecretRef: "not-a-reference"})
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	tenants, err := e.App.Tenancy.TenantsOf(ctx, e.Workspace)
	require.NoError(t, err)
	require.Len(t, tenants, 1, "a bad connection leaves no tenant behind")

	sess, err := svc.Create(ctx, owner.ID, onboarding.NewTenant{WorkspaceID: e.Workspace, TenantName: "Litware", EntraTenantID: e.EntraTenant,
		ClientID: "litware-app", SecretRef: monotest.SecretRef, GraphBaseURL: e.Sim.URL})
	require.NoError(t, err)

	_, err = svc.StartBootstrap(ctx, sess.ID, []string{"drift.generate"}, who)
	require.ErrorIs(t, err, onboarding.ErrInvalid)
	_, err = svc.StartBootstrap(ctx, sess.ID, nil, who)
	require.ErrorIs(t, err, onboarding.ErrInvalid)
	got, err := svc.Session(ctx, sess.ID)
	require.NoError(t, err)
	require.False(t, got.Bootstrapping())

	out, err := svc.StartBootstrap(ctx, sess.ID, []string{"directory.groups.sync", "inventory.sync"}, who)
	require.NoError(t, err)
	require.Equal(t, "inventory.sync", *out.AcceptedOperation, "BootstrapTypes order, not the form's")
	require.Equal(t, []string{"directory.groups.sync"}, out.PendingOperations)

	advanceAll := func() (accepted int) {
		t.Helper()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 6 {
			wg.Go(func() {
				out, err := svc.Advance(ctx, sess.ID, who)
				if err != nil {
					t.Error(err)
					return
				}
				if out.AcceptedOperation != nil {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return accepted
	}
	require.Equal(t, 0, advanceAll(), "nothing while the first is active")
	run, err := e.App.Operations.Claim(ctx, operations.Job{RunID: out.Run.ID, Type: "inventory.sync"}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	e.App.Operations.Execute(ctx, run, "test")
	require.True(t, e.Wait(t, out.Run.ID).Terminal())
	require.Equal(t, 1, advanceAll(), "exactly one once it ended")
	got, err = svc.Session(ctx, sess.ID)
	require.NoError(t, err)
	require.Len(t, got.AdmittedRuns, 2)
	require.Equal(t, "directory.groups.sync", got.CurrentType)
	require.Empty(t, got.Pending)

	_, err = svc.Session(ctx, uuid.New())
	require.ErrorIs(t, err, onboarding.ErrNotFound)

	// A blocked start ends at once and the next follows; the first backup without a
	// complete inventory snapshot (the sync was blocked: consent missing) is skipped and
	// named, never started without policies.
	lost, err := svc.Create(ctx, owner.ID, onboarding.NewTenant{WorkspaceID: e.Workspace, TenantName: "Lost tenant", EntraTenantID: uuid.NewString(),
		ClientID: "lost-app", SecretRef: monotest.SecretRef, GraphBaseURL: e.Sim.URL})
	require.NoError(t, err)
	require.NoError(t, e.App.Tenancy.SetConnectionStatus(ctx, "system:test", lost.ConnectionID, tenancy.ConnectionConsentMissing, "provider_consent_missing"))
	_, err = svc.StartBootstrap(ctx, lost.ID, []string{onboarding.TypeBackup}, who)
	require.ErrorIs(t, err, onboarding.ErrInvalid, "the first backup needs the inventory sync")
	out, err = svc.StartBootstrap(ctx, lost.ID, []string{"inventory.sync", onboarding.TypeBackup}, who)
	require.NoError(t, err)
	require.Equal(t, operations.StartBlocked, out.Status)
	require.Nil(t, out.AcceptedOperation, "blocked is not accepted")
	require.Equal(t, []string{onboarding.TypeBackup}, out.PendingOperations)
	out, err = svc.Advance(ctx, lost.ID, who)
	require.NoError(t, err)
	require.Nil(t, out.AcceptedOperation)
	require.Equal(t, []string{onboarding.TypeBackup}, out.SkippedOperations)
	require.Empty(t, out.PendingOperations)
	got, err = svc.Session(ctx, lost.ID)
	require.NoError(t, err)
	require.Len(t, got.AdmittedRuns, 1, "no backup run")
	require.Empty(t, got.Pending)
}

// TestStuckVerificationIsRerunOnceStale: while the session's verification run is active
// no second one may start; once the sweeper has ended it as stale (its queued_at shifted
// past the queued timeout, as a clock would), a new verification starts.
func TestStuckVerificationIsRerunOnceStale(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.DB(t), monotest.Options{NoWorkers: true})
	ctx := e.Ctx
	owner, err := e.App.Tenancy.RegisterUser(ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "Owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, e.App.Tenancy.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: owner.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleOwner}))
	who := operations.Initiator{Kind: "user", UserID: owner.ID, Name: owner.Email}
	svc := e.App.Onboarding
	sess, err := svc.Create(ctx, owner.ID, onboarding.NewTenant{WorkspaceID: e.Workspace, TenantName: "Stuck", EntraTenantID: e.EntraTenant,
		ClientID: "stuck-app", SecretRef: monotest.SecretRef, GraphBaseURL: e.Sim.URL})
	require.NoError(t, err)

	run, free, err := svc.Verification(ctx, sess)
	require.NoError(t, err)
	require.Nil(t, run)
	require.True(t, free)
	out, err := svc.StartVerification(ctx, sess, who)
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	sess, err = svc.Session(ctx, sess.ID)
	require.NoError(t, err)
	run, free, err = svc.Verification(ctx, sess)
	require.NoError(t, err)
	require.Equal(t, out.Run.ID, run.ID)
	require.False(t, free, "active: Refresh, not a new start")

	_, err = e.Pool.Exec(ctx, `UPDATE ops_runs SET queued_at = queued_at - interval '1 hour' WHERE run_id = $1`, out.Run.ID)
	require.NoError(t, err)
	n, err := e.App.Operations.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	run, free, err = svc.Verification(ctx, sess)
	require.NoError(t, err)
	require.True(t, run.Terminal())
	require.True(t, free, "stale and ended: it may be re-run")
	again, err := svc.StartVerification(ctx, sess, who)
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, again.Status, again.OperatorMessage)
	require.NotEqual(t, out.Run.ID, again.Run.ID)
	sess, err = svc.Session(ctx, sess.ID)
	require.NoError(t, err)
	require.Equal(t, again.Run.ID, sess.VerifyRunID)
}
