package runbooks_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/alerts"
	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
)

const key = runbooks.BackfillKey

// platformUser creates a platform user with the capabilities.
func platformUser(t *testing.T, ten *tenancy.Service, breakGlass bool, caps ...tenancy.PlatformCapability) tenancy.PlatformUser {
	t.Helper()
	u, err := ten.CreatePlatformUser(t.Context(), "system:test", tenancy.NewPlatformUser{Email: "op-" + uuid.NewString()[:8] + "@platform.test",
		Password: "correct horse battery staple", Capabilities: caps, BreakGlass: breakGlass})
	require.NoError(t, err)
	return u
}

func allCaps() []tenancy.PlatformCapability { return tenancy.PlatformCapabilities() }

// report inserts a drift report of the tenant at the time with findings
// (policy id, kind, changed fields).
func report(t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID, at time.Time, findings ...finding) uuid.UUID {
	t.Helper()
	ctx := t.Context()
	run := uuid.Must(uuid.NewV7())
	_, err := pool.Exec(ctx, `INSERT INTO drift_reports (run_id, tenant_id, baseline_snapshot_id, current_snapshot_id, generated_at, added, removed, changed)
		VALUES ($1, $2, $3, $4, $5, 0, 0, 0)`, run, tenant, uuid.New(), uuid.New(), at)
	require.NoError(t, err)
	for _, f := range findings {
		changes := f.raw
		if changes == "" {
			var cs []drift.Change
			for _, field := range f.fields {
				cs = append(cs, drift.Change{Field: field, Before: "a", After: "b"})
			}
			b, err := json.Marshal(cs)
			require.NoError(t, err)
			changes = string(b)
			if cs == nil {
				changes = "[]"
			}
		}
		_, err := pool.Exec(ctx, `INSERT INTO drift_findings (run_id, tenant_id, policy_type, policy_id, display_name, kind, changes)
			VALUES ($1, $2, 'compliancePolicies', $3, $3, $4, $5::jsonb)`, run, tenant, f.policy, f.kind, changes)
		require.NoError(t, err)
	}
	return run
}

type finding struct {
	policy, kind string
	fields       []string
	raw          string // changes as stored, when set
}

// auditEntries returns the After of the audit entries with the action, oldest first.
func auditEntries(t *testing.T, pool *pgxpool.Pool, action string) []map[string]any {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT data FROM es_events WHERE event_type = 'AuditRecorded' AND data->>'action' = $1 ORDER BY seq`, action)
	require.NoError(t, err)
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var e map[string]any
		require.NoError(t, json.Unmarshal(raw, &e))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestBackfillEndToEnd: the preflight counts findings (consolidated per tenant, policy
// and field), the run over all tenants adds each tenant's figures to one
// workspace-scoped run and sets first/last seen and open/resolved; a second run and a
// second preflight change nothing; every step is audited.
func TestBackfillEndToEnd(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	ctx, pool, ten := e.Ctx, e.Pool, e.App.Tenancy
	other, err := ten.AddTenant(ctx, "system:test", e.Workspace, "Fabrikam", uuid.NewString())
	require.NoError(t, err)
	t1 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	report(t, pool, e.Tenant, t1, finding{policy: "p1", kind: "changed", fields: []string{"displayName", "description"}},
		finding{policy: "p2", kind: "added"})
	latest := report(t, pool, e.Tenant, t2, finding{policy: "p1", kind: "changed", fields: []string{"displayName"}},
		finding{policy: "p3", kind: "removed"})
	report(t, pool, other.ID, t1, finding{policy: "p9", kind: "changed", fields: []string{"version"}})

	op := platformUser(t, ten, false, allCaps()...)
	o := runbooks.Origin{User: op, IP: "192.0.2.7", UserAgent: "test-agent", Source: "system"}
	all, err := runbooks.ParseScope("all", e.Workspace)
	require.NoError(t, err)
	pf, sc, err := e.App.Runbooks.Preflight(ctx, key, all, o)
	require.NoError(t, err)
	require.Equal(t, runbooks.Preflight{Total: 5, Affected: 5, Tenants: 2}, pf)
	require.Equal(t, e.Workspace, sc.WorkspaceID)
	one, err := runbooks.ParseScope(other.ID.String(), uuid.Nil)
	require.NoError(t, err)
	pf, _, err = e.App.Runbooks.Preflight(ctx, key, one, o)
	require.NoError(t, err)
	require.Equal(t, runbooks.Preflight{Total: 1, Affected: 1, Tenants: 1}, pf)

	start := func() *operations.Run {
		out, err := e.App.Runbooks.Start(ctx, runbooks.StartRequest{Key: key, Scope: all, ReasonCode: "DATA_REPAIR", ReasonText: "ticket 42", Confirm: key}, o)
		require.NoError(t, err)
		require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
		require.Equal(t, "/system/ops/runs/"+out.Run.ID.String(), out.Run.URL)
		return e.Wait(t, out.Run.ID)
	}
	run := start()
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	require.Equal(t, uuid.Nil, run.TenantID, "one workspace-scoped run")
	require.Equal(t, e.Workspace, run.WorkspaceID)
	require.Equal(t, operations.Counts{"tenants": 2, "total": 5, "processed": 5, "updated": 5}, run.Counts)
	require.Equal(t, "platform", run.Initiator.Kind)
	require.Equal(t, op.ID, run.Initiator.UserID)
	require.JSONEq(t, `{"scope":"all_tenants","reasonCode":"DATA_REPAIR","reasonText":"ticket 42"}`, string(run.Context))

	got, err := e.App.Drift.FindingLifecycles(ctx, e.Tenant)
	require.NoError(t, err)
	for i := range got {
		require.NotEqual(t, uuid.Nil, got[i].LastRunID)
		if got[i].Status == "open" {
			require.Equal(t, latest, got[i].LastRunID)
		}
		got[i].LastRunID = uuid.Nil
	}
	require.Equal(t, []drift.Lifecycle{
		{PolicyType: "compliancePolicies", PolicyID: "p1", FieldKey: "description", FirstSeenAt: t1, LastSeenAt: t1, Status: "resolved", Occurrences: 1},
		{PolicyType: "compliancePolicies", PolicyID: "p1", FieldKey: "displayName", FirstSeenAt: t1, LastSeenAt: t2, Status: "open", Occurrences: 2},
		{PolicyType: "compliancePolicies", PolicyID: "p2", FieldKey: "@added", FirstSeenAt: t1, LastSeenAt: t1, Status: "resolved", Occurrences: 1},
		{PolicyType: "compliancePolicies", PolicyID: "p3", FieldKey: "@removed", FirstSeenAt: t2, LastSeenAt: t2, Status: "open", Occurrences: 1},
	}, got, "duplicates consolidated, first/last seen, open only in the newest report")

	var before string
	require.NoError(t, pool.QueryRow(ctx, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM drift_finding_lifecycle t`).Scan(&before))
	again := start()
	require.Equal(t, operations.OutcomeSucceeded, again.Outcome)
	require.Equal(t, operations.Counts{"tenants": 2, "total": 5, "processed": 5, "skipped": 5}, again.Counts, "idempotent: nothing updated")
	var after string
	require.NoError(t, pool.QueryRow(ctx, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM drift_finding_lifecycle t`).Scan(&after))
	require.Equal(t, before, after)
	pf, _, err = e.App.Runbooks.Preflight(ctx, key, all, o)
	require.NoError(t, err)
	require.Equal(t, runbooks.Preflight{Total: 5, Affected: 0, Tenants: 2}, pf)

	// A new report resolves p3 and opens p4: the next preflight sees exactly that.
	report(t, pool, e.Tenant, t2.Add(time.Hour), finding{policy: "p1", kind: "changed", fields: []string{"displayName"}},
		finding{policy: "p4", kind: "added"})
	pf, _, err = e.App.Runbooks.Preflight(ctx, key, all, o)
	require.NoError(t, err)
	require.Equal(t, runbooks.Preflight{Total: 6, Affected: 3, Tenants: 2}, pf, "p1 seen again, p3 resolved, p4 new")

	pre := auditEntries(t, pool, "platform.ops.runbooks.preflight")
	require.Len(t, pre, 4, "one per preflight asked for (a start's own preflight is in its start entry)")
	require.Equal(t, "platform:"+op.ID.String(), pre[0]["actor"])
	require.Equal(t, "192.0.2.7", pre[0]["ip"])
	require.Equal(t, "test-agent", pre[0]["userAgent"])
	starts := auditEntries(t, pool, "platform.ops.runbooks.start")
	require.Len(t, starts, 2)
	require.Equal(t, "accepted", starts[0]["outcome"])
	require.Equal(t, "run:"+run.ID.String(), starts[0]["target"])
	st := starts[0]["after"].(map[string]any)
	require.Equal(t, key, st["runbook"])
	require.Equal(t, "all_tenants", st["scope"])
	require.EqualValues(t, 5, st["affected"])
	require.Equal(t, run.ID.String(), st["runId"])
	require.Equal(t, op.Email, st["platformUser"])
	require.Equal(t, false, st["breakGlass"])
	done := auditEntries(t, pool, "platform.ops.runbooks.completed")
	require.Len(t, done, 2)
	require.Equal(t, "run:"+run.ID.String(), done[0]["target"])
	require.Equal(t, "192.0.2.7", done[0]["ip"])
	require.EqualValues(t, 5, done[0]["after"].(map[string]any)["affected"])
	require.EqualValues(t, 0, done[1]["after"].(map[string]any)["affected"])
}

// TestStartRules: the typed confirmation, the reason (all tenants, break-glass), the
// capabilities; the break-glass flag is recorded on the run and its audit entry.
func TestStartRules(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	ctx, ten, rb := e.Ctx, e.App.Tenancy, e.App.Runbooks
	op := platformUser(t, ten, false, allCaps()...)
	bg := platformUser(t, ten, true, allCaps()...)
	viewer := platformUser(t, ten, false, tenancy.PlatformOpsView)
	looker := platformUser(t, ten, false, tenancy.PlatformOpsView, tenancy.PlatformRunbooksView)
	noKey := platformUser(t, ten, false, tenancy.PlatformOpsView, tenancy.PlatformRunbooksView, tenancy.PlatformRunbooksRun)
	all := runbooks.Scope{All: true, WorkspaceID: e.Workspace}
	one := runbooks.Scope{TenantID: e.Tenant}
	start := func(u tenancy.PlatformUser, req runbooks.StartRequest) (operations.StartOutcome, error) {
		req.Key = key
		return rb.Start(ctx, req, runbooks.Origin{User: u, Source: "system"})
	}

	_, err := start(op, runbooks.StartRequest{Scope: one, Confirm: "findings.lifecycle"})
	require.ErrorIs(t, err, runbooks.ErrInvalid)
	require.ErrorContains(t, err, "confirmation")
	_, err = start(op, runbooks.StartRequest{Scope: all, Confirm: key})
	require.ErrorIs(t, err, runbooks.ErrInvalid)
	require.ErrorContains(t, err, "all tenants needs a reason")
	_, err = start(op, runbooks.StartRequest{Scope: all, Confirm: key, ReasonCode: "BECAUSE", ReasonText: "x"})
	require.ErrorContains(t, err, "reasonCode")
	_, err = start(op, runbooks.StartRequest{Scope: all, Confirm: key, ReasonCode: "INCIDENT"})
	require.ErrorContains(t, err, "reason text is required")
	_, err = start(bg, runbooks.StartRequest{Scope: one, Confirm: key})
	require.ErrorIs(t, err, runbooks.ErrInvalid)
	require.ErrorContains(t, err, "break-glass")
	_, err = rb.Start(ctx, runbooks.StartRequest{Key: "nope", Scope: one, Confirm: "nope"}, runbooks.Origin{User: op})
	require.ErrorIs(t, err, runbooks.ErrUnknownRunbook)
	_, err = start(op, runbooks.StartRequest{Scope: runbooks.Scope{TenantID: uuid.New()}, Confirm: key})
	require.ErrorIs(t, err, runbooks.ErrInvalid)

	for _, u := range []tenancy.PlatformUser{viewer, looker, noKey} {
		_, err = start(u, runbooks.StartRequest{Scope: one, Confirm: key, ReasonCode: "SUPPORT", ReasonText: "x"})
		require.ErrorIs(t, err, runbooks.ErrForbidden, u.Capabilities)
	}
	_, _, err = rb.Preflight(ctx, key, one, runbooks.Origin{User: viewer})
	require.ErrorIs(t, err, runbooks.ErrForbidden)
	_, _, err = rb.Preflight(ctx, key, one, runbooks.Origin{User: looker})
	require.NoError(t, err)
	var runs int
	require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM ops_runs`).Scan(&runs))
	require.Zero(t, runs, "no refused start made a run")
	require.Len(t, auditEntries(t, e.Pool, "platform.ops.runbooks.start"), 3, "the denied starts are audited")

	// The gate itself refuses a platform initiator without the capabilities (no
	// shortcut around the runbooks module), and a platform initiator on a hub type.
	_, err = e.App.Operations.Start(ctx, operations.StartRequest{Type: key, WorkspaceID: e.Workspace, Context: []byte(`{"scope":"single_tenant"}`),
		Initiator: operations.Initiator{Kind: "platform", UserID: noKey.ID}})
	require.ErrorIs(t, err, operations.ErrForbidden)
	_, err = e.App.Operations.Start(ctx, operations.StartRequest{Type: "inventory.sync", TenantID: e.Tenant,
		Initiator: operations.Initiator{Kind: "platform", UserID: op.ID}})
	require.ErrorIs(t, err, operations.ErrForbidden)

	out, err := start(op, runbooks.StartRequest{Scope: one, Confirm: key})
	require.NoError(t, err, "one tenant needs no reason from a regular operator")
	require.Equal(t, operations.StartAccepted, out.Status)
	e.Wait(t, out.Run.ID)
	out, err = start(bg, runbooks.StartRequest{Scope: one, Confirm: " " + key + " ", ReasonCode: "SECURITY", ReasonText: "incident 7"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
	run := e.Wait(t, out.Run.ID)
	require.True(t, run.Initiator.BreakGlass, "the break-glass flag is on the run")
	require.Equal(t, bg.Email, run.Initiator.Name)
	starts := auditEntries(t, e.Pool, "platform.ops.runbooks.start")
	last := starts[len(starts)-1]
	require.Equal(t, true, last["after"].(map[string]any)["breakGlass"])
	require.Equal(t, "SECURITY", last["reason"])
	done := auditEntries(t, e.Pool, "platform.ops.runbooks.completed")
	require.Equal(t, true, done[len(done)-1]["after"].(map[string]any)["breakGlass"])
}

// TestScopeBusyAcrossProcesses: two apps on separate pools (two processes) start the
// all-tenants runbook at the same time, many times: exactly one run is accepted, every
// other start is scope_busy naming it; single-tenant starts are busy meanwhile too.
func TestScopeBusyAcrossProcesses(t *testing.T) {
	t.Parallel()
	pool1 := pgtest.Fresh(t)
	pool2, err := pgxpool.New(t.Context(), pool1.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(pool2.Close)
	// No workers: the accepted run stays active.
	app1 := monolith.New(pool1, monolith.Options{BcryptCost: bcrypt.MinCost})
	app2 := monolith.New(pool2, monolith.Options{BcryptCost: bcrypt.MinCost})
	ctx := t.Context()
	ws, err := app1.Tenancy.CreateWorkspace(ctx, "system:test", "busy")
	require.NoError(t, err)
	tn, err := app1.Tenancy.AddTenant(ctx, "system:test", ws.ID, "Contoso", uuid.NewString())
	require.NoError(t, err)
	op := platformUser(t, app1.Tenancy, false, allCaps()...)

	const n = 8
	outs := make([]operations.StartOutcome, 2*n)
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		app := app1
		if i%2 == 1 {
			app = app2
		}
		wg.Go(func() {
			outs[i], errs[i] = app.Runbooks.Start(ctx, runbooks.StartRequest{Key: key, Scope: runbooks.Scope{All: true, WorkspaceID: ws.ID},
				ReasonCode: "INCIDENT", ReasonText: "same text from everyone", Confirm: key}, runbooks.Origin{User: op, Source: "cli"})
		})
	}
	wg.Wait()
	var accepted uuid.UUID
	busy := 0
	for i := range outs {
		require.NoError(t, errs[i])
		switch outs[i].Status {
		case operations.StartAccepted:
			require.Equal(t, uuid.Nil, accepted, "a second accepted run")
			accepted = outs[i].Run.ID
		case operations.StartScopeBusy:
			busy++
		default:
			t.Fatalf("start %d: %s", i, outs[i].Status)
		}
	}
	require.NotEqual(t, uuid.Nil, accepted)
	require.Equal(t, 2*n-1, busy)
	for _, o := range outs {
		require.Equal(t, "/system/ops/runs/"+accepted.String(), o.Run.URL, "every answer names the one run")
	}
	out, err := app2.Runbooks.Start(ctx, runbooks.StartRequest{Key: key, Scope: runbooks.Scope{TenantID: tn.ID}, Confirm: key},
		runbooks.Origin{User: op, Source: "cli"})
	require.NoError(t, err)
	require.Equal(t, operations.StartScopeBusy, out.Status)
	require.Equal(t, operations.ReasonScopeBusy, out.ReasonCode)
	var runs int
	require.NoError(t, pool1.QueryRow(ctx, `SELECT count(*) FROM ops_runs`).Scan(&runs))
	require.Equal(t, 1, runs)
	busyAudits := 0
	for _, a := range auditEntries(t, pool1, "platform.ops.runbooks.start") {
		if a["outcome"] == "scope_busy" {
			busyAudits++
		}
	}
	require.Equal(t, 2*n, busyAudits)
}

// TestFailedRunbookAlerts: a tenant whose findings cannot be read fails with a
// sanitized failure; when every tenant fails the run fails, its end is audited, and a
// workspace alert rule (no tenant filter) gets a delivery for the workspace-scoped run.
func TestFailedRunbookAlerts(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	ctx, ten := e.Ctx, e.App.Tenancy
	sealCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.App.Store.RunSealer(sealCtx, 20*time.Millisecond) })
	t.Cleanup(func() { stop(); wg.Wait() })
	owner, err := ten.RegisterUser(ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "Owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: owner.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleOwner}))
	_, err = e.App.Alerts.CreateRule(ctx, alerts.Actor{UserID: owner.ID}, alerts.NewRule{Events: []string{"operations.run.failed"},
		URL: "http://127.0.0.1:9/hook", Secret: "a-secret-of-sixteen-chars"})
	require.NoError(t, err)
	// A changed finding whose changes are an object, not a list: the tenant's backfill fails.
	report(t, e.Pool, e.Tenant, time.Now().UTC(), finding{policy: "p1", kind: "changed", raw: `{"password":"hunter2"}`})

	op := platformUser(t, ten, false, allCaps()...)
	out, err := e.App.Runbooks.Start(ctx, runbooks.StartRequest{Key: key, Scope: runbooks.Scope{All: true, WorkspaceID: e.Workspace},
		ReasonCode: "DATA_REPAIR", ReasonText: "repair", Confirm: key}, runbooks.Origin{User: op, Source: "system"})
	require.NoError(t, err)
	run := e.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomeFailed, run.Outcome)
	require.Equal(t, operations.ReasonItemFailed, run.ReasonCode)
	require.Equal(t, operations.Counts{"tenants": 1, "failed": 1}, run.Counts)
	require.Len(t, run.Failures, 1)
	require.Contains(t, run.Failures[0].Message, "Contoso")
	require.NotContains(t, run.Failures[0].Message, "hunter2")
	require.NotContains(t, run.Failures[0].Message, "jsonb")
	failed := auditEntries(t, e.Pool, "platform.ops.runbooks.failed")
	require.Len(t, failed, 1)
	require.Equal(t, "run:"+run.ID.String(), failed[0]["target"])

	require.Eventually(t, func() bool {
		_, err := e.App.Alerts.Follow(ctx)
		require.NoError(t, err)
		ds, err := e.App.Alerts.Deliveries(ctx, owner.ID, 10)
		require.NoError(t, err)
		return len(ds) == 1 && ds[0].RunID == run.ID && ds[0].Event == "operations.run.failed"
	}, 20*time.Second, 20*time.Millisecond, "the failed runbook run yields one alert delivery")
}

// TestPartialFailure: one tenant of two fails: its failure is appended (sanitized), the
// other tenant's figures still count, and the run is partially succeeded (audited as
// completed).
func TestPartialFailure(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	ctx, ten := e.Ctx, e.App.Tenancy
	good, err := ten.AddTenant(ctx, "system:test", e.Workspace, "Fabrikam", uuid.NewString())
	require.NoError(t, err)
	report(t, e.Pool, e.Tenant, time.Now().UTC(), finding{policy: "p1", kind: "changed", raw: `{"not":"a list"}`})
	report(t, e.Pool, good.ID, time.Now().UTC(), finding{policy: "p2", kind: "added"}, finding{policy: "p3", kind: "removed"})
	op := platformUser(t, ten, false, allCaps()...)
	out, err := e.App.Runbooks.Start(ctx, runbooks.StartRequest{Key: key, Scope: runbooks.Scope{All: true, WorkspaceID: e.Workspace},
		ReasonCode: "DATA_REPAIR", ReasonText: "repair", Confirm: key}, runbooks.Origin{User: op, Source: "system"})
	require.NoError(t, err)
	run := e.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomePartiallySucceeded, run.Outcome)
	require.Equal(t, operations.Counts{"tenants": 2, "failed": 1, "total": 2, "processed": 2, "updated": 2}, run.Counts)
	require.Len(t, run.Failures, 1)
	require.Equal(t, operations.ReasonItemFailed, run.Failures[0].ReasonCode)
	require.Contains(t, run.Failures[0].Message, e.Tenant.String())
	got, err := e.App.Drift.FindingLifecycles(ctx, good.ID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Len(t, auditEntries(t, e.Pool, "platform.ops.runbooks.completed"), 1)
	require.Empty(t, auditEntries(t, e.Pool, "platform.ops.runbooks.failed"))
}
