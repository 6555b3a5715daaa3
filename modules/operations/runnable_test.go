package operations_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestStartRefusesUnrunnableType: a gate whose process neither handles nor declares a
// type refuses its start with ErrTypeUnavailable, for every initiator (a member, an
// owner, an outsider, an unknown tenant), before authorization: no run, no event, no
// audit entry, no dispatch message. A type with a handler is admitted as before.
func TestStartRefusesUnrunnableType(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	ops := operations.New(f.pool, f.store, f.ten, audit.NewRecorder(f.store), operations.Options{})
	ops.Handle("inventory.sync", func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
		return operations.OutcomeSucceeded, nil
	})
	require.True(t, ops.Runnable("inventory.sync"))
	require.False(t, ops.Runnable("drift.generate"))
	require.False(t, ops.Runnable("no.such.type"))
	require.Equal(t, []string{"inventory.sync"}, typeNames(ops.RunnableTypes()))

	count := func() (runs, events, dispatches int) {
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE workspace_id = $1`, f.workspace).Scan(&runs))
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_events WHERE workspace_id = $1`, f.workspace).Scan(&events))
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM watermill_ops_dispatch`).Scan(&dispatches))
		return
	}
	runs0, events0, _ := count()
	for _, typ := range []string{"drift.generate", "restore.execute", "backup_schedule.scheduled"} {
		for _, who := range []string{"owner", "operator", "readonly", "outsider"} {
			_, err := ops.Start(f.ctx, operations.StartRequest{Type: typ, TenantID: f.tenant, Initiator: f.initiator(who), SourceSurface: "test"})
			require.ErrorIs(t, err, operations.ErrTypeUnavailable, "%s as %s", typ, who)
		}
		_, err := ops.Start(f.ctx, operations.StartRequest{Type: typ, TenantID: uuid.New(), Initiator: f.initiator("owner")})
		require.ErrorIs(t, err, operations.ErrTypeUnavailable, "%s on an unknown tenant: the tenant is not looked up", typ)
	}
	_, err := ops.Start(f.ctx, operations.StartRequest{Type: "findings.lifecycle.backfill", WorkspaceID: f.workspace,
		Initiator: operations.Initiator{Kind: "system", Name: "test"}})
	require.ErrorIs(t, err, operations.ErrTypeUnavailable)
	_, err = ops.Start(f.ctx, operations.StartRequest{Type: "no.such.type", TenantID: f.tenant, Initiator: f.initiator("owner")})
	require.ErrorIs(t, err, operations.ErrUnknownType, "an unknown type stays unknown")
	runs, events, _ := count()
	require.Equal(t, runs0, runs, "no run row")
	require.Equal(t, events0, events, "no event, no audit entry")

	// The same gate admits the type it has a handler for; the fixture's service (every
	// type declared) admits drift.
	out, err := ops.Start(f.ctx, operations.StartRequest{Type: "inventory.sync", TenantID: f.tenant, Initiator: f.initiator("operator")})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
	require.Equal(t, 1, f.dispatched(t, out.Run.ID))
	require.Equal(t, operations.StartAccepted, f.start(t, "operator", "drift.generate", f.tenant, `{}`).Status)
}

// TestCheckStart: the generic surfaces ask CheckStart: unknown, then not runnable, then
// not started from that surface.
func TestCheckStart(t *testing.T) {
	t.Parallel()
	ops := operations.New(nil, nil, nil, nil, operations.Options{})
	require.ErrorIs(t, ops.CheckStart("no.such.type", operations.SurfaceAPI), operations.ErrUnknownType)
	require.ErrorIs(t, ops.CheckStart("restore.execute", operations.SurfaceAPI), operations.ErrTypeUnavailable, "not runnable comes first")
	for _, typ := range []string{"inventory.sync", "backup_set.add_policies", "restore.execute", "findings.lifecycle.backfill", "backup_schedule.scheduled"} {
		ops.DeclareRunnable(typ)
	}
	require.NoError(t, ops.CheckStart("inventory.sync", operations.SurfaceStartForm))
	require.NoError(t, ops.CheckStart("inventory.sync", operations.SurfaceAPI))
	require.NoError(t, ops.CheckStart("backup_set.add_policies", operations.SurfaceAPI))
	require.ErrorIs(t, ops.CheckStart("backup_set.add_policies", operations.SurfaceStartForm), operations.ErrSurfaceNotAllowed,
		"a backup names its policies: the generic form cannot")
	for _, typ := range []string{"restore.execute", "findings.lifecycle.backfill", "backup_schedule.scheduled"} {
		require.ErrorIs(t, ops.CheckStart(typ, operations.SurfaceAPI), operations.ErrSurfaceNotAllowed, typ)
		require.ErrorIs(t, ops.CheckStart(typ, operations.SurfaceStartForm), operations.ErrSurfaceNotAllowed, typ)
	}
	require.Panics(t, func() { ops.DeclareRunnable("no.such.type") })
}

// TestCatalogSurfaces pins where each type starts from (seeds 001, 003, 004): restores,
// schedules and runbooks never from the generic form or API.
func TestCatalogSurfaces(t *testing.T) {
	t.Parallel()
	form, api := map[string]bool{}, map[string]bool{}
	for _, ti := range operations.Types() {
		require.NotZero(t, ti.StartSurfaces(), "%s starts from somewhere", ti.Type)
		form[ti.Type], api[ti.Type] = ti.StartsFrom(operations.SurfaceStartForm), ti.StartsFrom(operations.SurfaceAPI)
	}
	require.Equal(t, map[string]bool{"inventory.sync": true, "directory.groups.sync": true, "directory.role_definitions.sync": true,
		"drift.generate": true, "backup_set.add_policies": false, "backup_schedule.run_now": false, "backup_schedule.retry": false,
		"backup_schedule.scheduled": false, "restore.execute": false, "restore.preview": false, "provider.verify": true, "findings.lifecycle.backfill": false}, form)
	require.Equal(t, map[string]bool{"inventory.sync": true, "directory.groups.sync": true, "directory.role_definitions.sync": true,
		"drift.generate": true, "backup_set.add_policies": true, "backup_schedule.run_now": false, "backup_schedule.retry": false,
		"backup_schedule.scheduled": false, "restore.execute": false, "restore.preview": false, "provider.verify": true, "findings.lifecycle.backfill": false}, api)
}

func typeNames(ts []operations.TypeInfo) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Type
	}
	return out
}
