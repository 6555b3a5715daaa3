package operations_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestStartAccepted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	out := f.start(t, "operator", "inventory.sync", f.tenant, `{"policyTypes":["deviceConfiguration"]}`)
	require.Equal(t, operations.StartAccepted, out.Status)
	require.Equal(t, "inventory.sync", out.OperationType)
	require.NotEmpty(t, out.OperatorMessage)
	require.Equal(t, operations.StatusQueued, out.Run.Status)
	require.Equal(t, "/admin/operations/"+out.Run.ID.String(), out.Run.URL)
	require.Equal(t, []operations.NextStep{{Label: "View run", Href: out.Run.URL}}, out.NextSteps)

	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.StatusQueued, run.Status)
	require.Equal(t, operations.OutcomePending, run.Outcome)
	require.Equal(t, f.tenant, run.TenantID)
	require.Equal(t, f.workspace, run.WorkspaceID)
	require.Equal(t, f.conn, run.ProviderConnectionID)
	require.Equal(t, f.users["operator"].ID, run.Initiator.UserID)
	require.JSONEq(t, `{"policyTypes":["deviceConfiguration"]}`, string(run.Context))
	require.Equal(t, []string{"RunQueued", "NotificationSent"}, f.eventTypes(t, out.Run.ID))
	require.Equal(t, 1, f.dispatched(t, out.Run.ID), "the dispatch message committed with RunQueued")

	runInbox(t, f)
	notes := waitNotes(t, f, f.users["operator"].ID, 1)
	require.Equal(t, "run.queued", notes[0].Kind)
	require.Equal(t, out.Run.URL, notes[0].URL)
	for _, other := range []string{"owner", "readonly"} {
		notes, err := f.runs.Notifications(f.ctx, f.users[other].ID, 10)
		require.NoError(t, err)
		require.Empty(t, notes, "only the initiator is notified")
	}
}

// TestConcurrentIdenticalStarts fires the same start from 100 goroutines over a pool of
// 40 connections: exactly one run is accepted, the 99 others are deduped to it.
func TestConcurrentIdenticalStarts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, poolOf(t, pgtest.URL(t), 40))

	const callers = 100
	outs := make([]operations.StartOutcome, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-gate
			outs[i], errs[i] = f.ops.Start(f.ctx, operations.StartRequest{Type: "inventory.sync", TenantID: f.tenant,
				Context: []byte(`{"policyTypes":["deviceConfigurations"]}`), Initiator: f.initiator("operator"), SourceSurface: "test"})
		})
	}
	close(gate)
	wg.Wait()
	var accepted []uuid.UUID
	deduped := 0
	for i := range callers {
		require.NoError(t, errs[i])
		switch outs[i].Status {
		case operations.StartAccepted:
			accepted = append(accepted, outs[i].Run.ID)
		case operations.StartDeduped:
			deduped++
		default:
			t.Fatalf("unexpected outcome %q", outs[i].Status)
		}
	}
	require.Len(t, accepted, 1)
	require.Equal(t, callers-1, deduped)
	for i := range callers {
		require.Equal(t, accepted[0], outs[i].Run.ID, "every deduped answer names the one run")
	}
	var runs int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE tenant_id = $1`, f.tenant).Scan(&runs))
	require.Equal(t, 1, runs)
}

func TestScopeBusy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	first := f.start(t, "operator", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, first.Status)
	busy := f.start(t, "operator", "directory.groups.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartScopeBusy, busy.Status)
	require.Equal(t, first.Run.ID, busy.Run.ID, "scope_busy points at the run holding the scope")
	require.Equal(t, operations.ReasonScopeBusy, busy.ReasonCode)
	require.Contains(t, busy.OperatorMessage, "Inventory sync")
	require.NotEmpty(t, busy.NextSteps)

	// Work that is not provider-backed is not held back by the scope.
	drift := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, drift.Status)
}

func TestBlockedStarts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	out := f.start(t, "operator", "inventory.sync", f.bare, `{}`)
	require.Equal(t, operations.StartBlocked, out.Status)
	require.Equal(t, operations.ReasonProviderConnectionMissing, out.ReasonCode)
	require.NotEmpty(t, out.ShortReason)
	require.NotEmpty(t, out.NextSteps)
	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.OutcomeBlocked, run.Outcome)
	require.Equal(t, operations.StatusCompleted, run.Status)
	require.Equal(t, operations.BucketFailed, run.Bucket())
	require.Equal(t, []string{"RunQueued", "RunBlocked", "NotificationSent"}, f.eventTypes(t, out.Run.ID))
	require.Zero(t, f.dispatched(t, out.Run.ID), "nothing is dispatched for a blocked run")
	var audits int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'target' = $1 AND data->>'outcome' = 'blocked'`, "run:"+out.Run.ID.String()).Scan(&audits))
	require.Equal(t, 1, audits)

	for status, reason := range map[tenancy.ConnectionStatus]operations.ReasonCode{
		tenancy.ConnectionConsentMissing:   operations.ReasonProviderConsentMissing,
		tenancy.ConnectionPermissionDenied: operations.ReasonProviderPermissionDenied,
		tenancy.ConnectionDisabled:         operations.ReasonProviderConnectionDisabled,
	} {
		require.NoError(t, f.ten.SetConnectionStatus(f.ctx, "system:test", f.conn, status, "test"))
		out := f.start(t, "operator", "directory.groups.sync", f.tenant, `{}`)
		require.Equal(t, operations.StartBlocked, out.Status, status)
		require.Equal(t, reason, out.ReasonCode, status)
	}
	// A connection of another tenant is invalid here.
	invalid, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "inventory.sync", TenantID: f.bare, ProviderConnectionID: f.conn,
		Initiator: f.initiator("operator")})
	require.NoError(t, err)
	require.Equal(t, operations.StartBlocked, invalid.Status)
	require.Equal(t, operations.ReasonProviderConnectionInvalid, invalid.ReasonCode)

	// Not provider-backed: no connection needed.
	require.Equal(t, operations.StartAccepted, f.start(t, "operator", "drift.generate", f.bare, `{}`).Status)
}

func TestStartAuthorization(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	restoreCtx := `{"restoreId":"` + uuid.NewString() + `"}`
	try := func(role, typ string, tenant uuid.UUID) error {
		req := operations.StartRequest{Type: typ, TenantID: tenant, Initiator: f.initiator(role)}
		if typ == "restore.execute" {
			req.Context = []byte(restoreCtx)
		}
		_, err := f.ops.Start(f.ctx, req)
		return err
	}
	require.ErrorIs(t, try("readonly", "inventory.sync", f.tenant), operations.ErrForbidden)
	require.ErrorIs(t, try("compliance", "inventory.sync", f.tenant), operations.ErrForbidden)
	require.ErrorIs(t, try("operator", "restore.execute", f.tenant), operations.ErrForbidden)
	require.ErrorIs(t, try("outsider", "inventory.sync", f.tenant), operations.ErrNotFound)
	require.ErrorIs(t, try("owner", "inventory.sync", uuid.New()), operations.ErrNotFound)
	require.ErrorIs(t, try("owner", "no.such.type", f.tenant), operations.ErrUnknownType)
	var runs int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE workspace_id = $1`, f.workspace).Scan(&runs))
	require.Zero(t, runs, "refused starts create nothing")

	var denied int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND workspace_id = $1 AND data->>'outcome' = 'denied'`, f.workspace).Scan(&denied))
	require.Equal(t, 3, denied, "each refused member's attempt is audited")

	for _, bad := range []string{`[1,2]`, `"x"`, `{"a":1}{"b":2}`, `{`, `12`} {
		_, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.tenant, Context: []byte(bad),
			Initiator: f.initiator("owner")})
		require.ErrorIs(t, err, operations.ErrInvalidContext, bad)
	}
	require.Equal(t, operations.StartAccepted, f.start(t, "manager", "restore.execute", f.tenant, restoreCtx).Status)
}

func TestNonceAndScheduledIdentities(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	runNow := func(nonce string) operations.StartOutcome {
		out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "backup_schedule.run_now", TenantID: f.tenant,
			Context: []byte(`{"scheduleId":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}`), Nonce: nonce, Initiator: f.initiator("operator")})
		require.NoError(t, err)
		return out
	}
	a := runNow("click-1")
	require.Equal(t, operations.StartAccepted, a.Status)
	dup := runNow("click-1")
	require.Equal(t, operations.StartDeduped, dup.Status, "a double-submit of one click is one run")
	require.Equal(t, a.Run.ID, dup.Run.ID)

	// A new click is a new identity; on the same provider scope it is scope_busy, not deduped.
	require.Equal(t, operations.StartScopeBusy, runNow("click-2").Status)

	// Scheduled: (schedule id, scheduled-for) is unique forever, also after the run ended.
	f2 := newFixture(t, pgtest.Fresh(t)) // the sweep below must see only this test's runs
	sched := uuid.New()
	at := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	scheduled := func(when time.Time) operations.StartOutcome {
		out, err := f2.ops.Start(f2.ctx, operations.StartRequest{Type: "backup_schedule.scheduled", TenantID: f2.tenant,
			Context: []byte(`{"scheduleId":"` + sched.String() + `"}`), ScheduleID: sched, ScheduledFor: when, Initiator: operations.Initiator{Kind: "system", Name: "scheduler"}, SourceSurface: "scheduler"})
		require.NoError(t, err)
		return out
	}
	first := scheduled(at)
	require.Equal(t, operations.StartAccepted, first.Status)
	// End it (as the sweeper would) and fire the same slot again.
	f2.clock.Advance(time.Hour)
	n, err := f2.ops.Sweep(f2.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again := scheduled(at)
	require.Equal(t, operations.StartDeduped, again.Status)
	require.Equal(t, first.Run.ID, again.Run.ID)
	require.Equal(t, operations.StatusCompleted, again.Run.Status)
	require.Equal(t, operations.StartAccepted, scheduled(at.Add(24*time.Hour)).Status, "the next slot is a new run")

	_, err = f2.ops.Start(f2.ctx, operations.StartRequest{Type: "backup_schedule.scheduled", TenantID: f2.tenant,
		Context: []byte(`{"scheduleId":"` + sched.String() + `"}`), Initiator: operations.Initiator{Kind: "system", Name: "scheduler"}})
	require.ErrorIs(t, err, operations.ErrInvalidContext, "a scheduled start needs its slot")
}

// TestScheduledSlotEndedAtTheGateNeverFiresAgain: a scheduled slot that was blocked (no
// provider connection) or whose dispatch failed keeps its identity forever: firing the
// slot again answers deduped with that run, however often and however concurrently.
func TestScheduledSlotEndedAtTheGateNeverFiresAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   []fixtureOpt
		bare   bool
		reason operations.ReasonCode
	}{
		{name: "blocked", bare: true, reason: operations.ReasonProviderConnectionMissing},
		{name: "dispatch failed", opts: []fixtureOpt{func(o *operations.Options) { o.Dispatcher = failingDispatcher{} }},
			reason: operations.ReasonDispatchFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, pgtest.Fresh(t), tc.opts...)
			tenant := f.tenant
			if tc.bare {
				tenant = f.bare
			}
			sched := uuid.New()
			at := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
			fire := func() (operations.StartOutcome, error) {
				return f.ops.Start(f.ctx, operations.StartRequest{Type: "backup_schedule.scheduled", TenantID: tenant,
					Context: []byte(`{"scheduleId":"` + sched.String() + `"}`), ScheduleID: sched, ScheduledFor: at,
					Initiator: operations.Initiator{Kind: "system", Name: "scheduler"}, SourceSurface: "scheduler"})
			}
			first, err := fire()
			require.NoError(t, err)
			require.Equal(t, operations.StartBlocked, first.Status)
			require.Equal(t, tc.reason, first.ReasonCode)

			var wg sync.WaitGroup
			outs := make([]operations.StartOutcome, 8)
			errs := make([]error, 8)
			for i := range outs {
				wg.Go(func() { outs[i], errs[i] = fire() })
			}
			wg.Wait()
			for i := range outs {
				require.NoError(t, errs[i])
				require.Equal(t, operations.StartDeduped, outs[i].Status, "the slot ended at the gate; it never fires again")
				require.Equal(t, first.Run.ID, outs[i].Run.ID)
			}
			var runs int
			require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE type = 'backup_schedule.scheduled'`).Scan(&runs))
			require.Equal(t, 1, runs)
		})
	}
}

// failingDispatcher stands in for a broker that refuses the job.
type failingDispatcher struct{}

func (failingDispatcher) QueueDispatch(context.Context, *eventstore.Batch, operations.Job) error {
	return errors.New("broker unavailable: amqp://guest:hunter2@broker:5672 refused")
}

func TestDispatchFailureFailsTheRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t), func(o *operations.Options) { o.Dispatcher = failingDispatcher{} })
	out := f.start(t, "operator", "drift.generate", f.tenant, `{}`)
	require.Equal(t, operations.StartBlocked, out.Status)
	require.Equal(t, operations.ReasonDispatchFailed, out.ReasonCode)
	run, err := f.ops.Load(f.ctx, out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.OutcomeFailed, run.Outcome)
	require.Equal(t, operations.ReasonDispatchFailed, run.ReasonCode)
	require.Equal(t, []string{"RunQueued", "RunDispatchFailed", "RunFailed", "NotificationSent"}, f.eventTypes(t, out.Run.ID))
	// The identity is free again: the next start is accepted (with a working dispatcher).
	var active int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE tenant_id = $1 AND status <> 'completed'`, f.tenant).Scan(&active))
	require.Zero(t, active)
	var leaked int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM es_events WHERE data::text LIKE '%hunter2%'`).Scan(&leaked))
	require.Zero(t, leaked, "the broker's error text never reaches an event")
}

// roundTrips counts the queries and batches sent on a pool.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedFixture is a fixture on a pool of its own whose round trips rt counts.
func tracedFixture(t *testing.T) (*fixture, *roundTrips) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return newFixture(t, pool), rt
}

// TestFreshNonceStartSkipsTheDuplicateLookup: a start of a per-click type whose nonce the
// gate makes is accepted in one round trip (the start's one transaction, its
// authorization folded in), where a nonce the caller gives, which may be held already
// (and then answers deduped), takes the authorization and the lookup first.
func TestFreshNonceStartSkipsTheDuplicateLookup(t *testing.T) {
	t.Parallel()
	f, rt := tracedFixture(t)

	start := func(nonce string) (operations.StartOutcome, int64) {
		before := rt.n.Load()
		out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "findings.lifecycle.backfill", WorkspaceID: f.workspace,
			Context: []byte(`{"reasonText":"round trips"}`), Nonce: nonce, Initiator: f.initiator("owner"), SourceSurface: "test"})
		require.NoError(t, err)
		return out, rt.n.Load() - before
	}
	fresh, freshTrips := start("")
	require.Equal(t, operations.StartAccepted, fresh.Status)
	given, givenTrips := start("n-" + uuid.NewString())
	require.Equal(t, operations.StartAccepted, given.Status)
	require.EqualValues(t, 1, freshTrips, "a fresh nonce: the start's transaction, its authorization folded in")
	require.EqualValues(t, 3, givenTrips, "a given nonce: the authorization and the lookup first")
	nonce := "n-" + uuid.NewString()
	first, _ := start(nonce)
	again, _ := start(nonce)
	require.Equal(t, operations.StartDeduped, again.Status, "a given nonce already held answers deduped")
	require.Equal(t, first.Run.ID, again.Run.ID)
}

// TestFoldedAuthorization: a start that goes straight to its transaction is authorized
// in it (one round trip; a tenant's after the tenant's first authorized start, which
// teaches the gate its workspace), and a refusal there still answers exactly what
// authorizeStart answers (403 or 404, with the denied audit entry) and writes nothing;
// a role granted meanwhile, or a wrong workspace remembered for the tenant, starts the
// run as before.
func TestFoldedAuthorization(t *testing.T) {
	t.Parallel()
	f, rt := tracedFixture(t)
	n := 0
	start := func(role string) (operations.StartOutcome, int64, error) {
		n++
		before := rt.n.Load()
		out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.tenant,
			Context: fmt.Appendf(nil, `{"baseline":"b%d"}`, n), Initiator: f.initiator(role), SourceSurface: "test"})
		return out, rt.n.Load() - before, err
	}
	runs := func() (n int) {
		require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE tenant_id = $1`, f.tenant).Scan(&n))
		return n
	}
	first, trips, err := start("operator")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, first.Status)
	require.EqualValues(t, 2, trips, "the tenant's first start: the authorization, then the transaction")
	second, trips, err := start("operator")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, second.Status)
	require.EqualValues(t, 1, trips, "folded")

	// Refused in the transaction: the exact denial, audited, nothing written.
	before := runs()
	_, _, err = start("outsider")
	require.ErrorIs(t, err, operations.ErrNotFound)
	require.Len(t, f.startAudits(t, "user:"+f.users["outsider"].ID.String()), 1)
	_, _, err = start("readonly")
	require.ErrorIs(t, err, operations.ErrForbidden)
	denied := f.startAudits(t, "user:"+f.users["readonly"].ID.String())
	require.Len(t, denied, 1)
	require.Equal(t, operations.AuditDenied, denied[0].Outcome)
	require.Equal(t, before, runs(), "a refused start writes no run")

	// A role granted meanwhile: refused in the transaction, allowed by authorizeStart,
	// started unfolded.
	require.NoError(t, f.ten.RevokeMembership(f.ctx, "system:test", f.users["operator"].ID, f.workspace, uuid.Nil))
	_, _, err = start("operator")
	require.ErrorIs(t, err, operations.ErrNotFound)
	require.NoError(t, f.ten.GrantMembership(f.ctx, "system:test", tenancy.Membership{UserID: f.users["operator"].ID,
		WorkspaceID: f.workspace, Role: tenancy.RoleOperator}))
	again, trips, err := start("operator")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, again.Status)
	require.EqualValues(t, 1, trips, "allowed in the transaction again")

	// A wrong workspace remembered for the tenant: refused, authorized, started in the
	// tenant's own workspace, and remembered right.
	operations.RememberTenantWorkspace(f.ops, f.tenant, uuid.New())
	moved, trips, err := start("operator")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, moved.Status)
	require.EqualValues(t, 4, trips, "refused (and rolled back), authorized, started")
	var ws uuid.UUID
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT workspace_id FROM ops_runs WHERE run_id = $1`, moved.Run.ID).Scan(&ws))
	require.Equal(t, f.workspace, ws)
	_, trips, err = start("operator")
	require.NoError(t, err)
	require.EqualValues(t, 1, trips)
}
