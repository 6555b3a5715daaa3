package web_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/web"
)

var (
	startSelectRe = regexp.MustCompile(`(?s)<select id="start-type" name="type"[^>]*>(.*?)</select>`)
	optionRe      = regexp.MustCompile(`<option value="([^"]+)"`)
)

// startOptions are the types the tenant page's start form offers, in order.
func startOptions(t *testing.T, b *browser, page string) []string {
	t.Helper()
	resp, body := b.get(page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := startSelectRe.FindStringSubmatch(body)
	require.NotNil(t, m, "the page has a start form")
	var out []string
	for _, o := range optionRe.FindAllStringSubmatch(m[1], -1) {
		out = append(out, o[1])
	}
	return out
}

// serveWithOperations serves a's system with ops as the operations service (a gate
// with other handlers than a's).
func serveWithOperations(t *testing.T, a *monolith.App, ops *operations.Service, seed monolith.DemoSeed) *hub {
	t.Helper()
	srv := web.New(web.Deps{Database: a.Pool, Tenancy: a.Tenancy, Operations: ops,
		Runs: a.Runs, Inventory: a.Inventory, Directory: a.Directory, Drift: a.Drift, Backup: a.Backup, Restore: a.Restore, Onboarding: a.Onboarding, Ready: a.Ready})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.App().ShutdownWithTimeout(5 * time.Second) })
	return &hub{base: "http://" + ln.Addr().String(), seed: seed, app: a}
}

// TestStartFormOffersOnlyRunnableTypes: the start form lists the types a worker runs
// and the catalog starts from the generic form (no restore, schedule, runbook or
// backup-with-policies), its default can run; a gate that handles fewer types offers
// fewer. Starting what is not offered — from the form or the API — is a 422 with its
// reason code, and records nothing: no run, no event, no audit entry.
func TestStartFormOffersOnlyRunnableTypes(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	seed, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	tenant := seed.Tenants[0].ID.String()
	page := "/admin/t/" + tenant + "/operations"
	startURL := "/api/v1/tenants/" + tenant + "/operations/"

	// The deployment's gate (types its workers run declared): the generic ones.
	h := serveHub(t, a, pool, seed)
	owner := newBrowser(t, h)
	owner.login("owner")
	generic := []string{"directory.groups.sync", "directory.role_definitions.sync", "drift.generate", "inventory.sync", "provider.verify"}
	require.Equal(t, generic, startOptions(t, owner, page), "the owner may start everything: only what runs from the form is offered")
	operator := newBrowser(t, h)
	operator.login("operator")
	for _, typ := range startOptions(t, operator, page) {
		require.Contains(t, generic, typ)
	}
	_, body := owner.get(page)
	token := csrf(t, body)
	for typ, want := range map[string]string{
		"backup_set.add_policies":     "Started from its own page", // runnable, but it names its policies
		"restore.execute":             "Started from its own page", // a restore's page, after its preview and a typed confirmation
		"backup_schedule.run_now":     "Started from its own page", // a schedule's page or the scheduler
		"findings.lifecycle.backfill": "Started from its own page", // runnable: the /system runbook page only
	} {
		resp, body := owner.post(page+"/start", url.Values{"type": {typ}, "_csrf": {token}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, typ)
		require.Contains(t, body, want, typ)
	}
	for _, typ := range []string{"restore.execute", "restore.preview", "backup_schedule.run_now", "backup_schedule.retry", "backup_schedule.scheduled", "findings.lifecycle.backfill"} {
		code, out := h.call(t, "owner", "POST", startURL+typ+"/start", `{}`)
		require.Equal(t, http.StatusUnprocessableEntity, code, typ)
		require.Equal(t, "start_surface_not_allowed", out["error"].(map[string]any)["code"], typ)
	}

	// A gate whose process handles inventory syncs and restores only.
	ops := operations.New(pool, a.Store, a.Tenancy, a.Audit, operations.Options{})
	for _, typ := range []string{"inventory.sync", "restore.execute"} {
		ops.Handle(typ, func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
			return operations.OutcomeSucceeded, nil
		})
	}
	h2 := serveWithOperations(t, a, ops, seed)
	owner2 := newBrowser(t, h2)
	owner2.login("owner")
	require.Equal(t, []string{"inventory.sync"}, startOptions(t, owner2, page), "the form's only (default) type runs")
	groups := "/admin/t/" + tenant + "/directory/groups"
	_, body = owner.get(groups)
	require.Contains(t, body, "Sync now", "the deployment's workers sync the directory")
	resp, body := owner2.get(groups)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, "Sync now", "no button for a sync no worker runs")
	_, body = owner2.get(page)
	resp, body = owner2.post(page+"/start", url.Values{"type": {"drift.generate"}, "_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "Operation not available")
	code, out := h2.call(t, "owner", "POST", startURL+"drift.generate/start", `{}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Equal(t, "operation_type_unavailable", out["error"].(map[string]any)["code"])
	code, out = h2.call(t, "owner", "POST", startURL+"restore.execute/start", `{}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, "a restore starts from its wizard, not the generic API")
	require.Equal(t, "start_surface_not_allowed", out["error"].(map[string]any)["code"])

	var runs, events int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs`).Scan(&runs))
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events
		WHERE event_type IN ('RunQueued', 'RunBlocked') OR (event_type = 'AuditRecorded' AND data->>'action' = 'operation.start')`).Scan(&events))
	require.Zero(t, runs, "no run")
	require.Zero(t, events, "no run event, no audit entry")

	// What is offered starts.
	code, out = h2.call(t, "owner", "POST", startURL+"inventory.sync/start", `{}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "accepted", out["status"])
}

func typeNames(ts []operations.TypeInfo) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Type
	}
	return out
}

// TestWorkerTypes: a process wired without Graph (a gate for the deployment's workers)
// offers exactly the types a working process registers handlers for, so
// monolith.WorkerTypes cannot drift from the modules' Register calls; every catalog type
// is runnable in both.
func TestWorkerTypes(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	working := monolith.New(pool, monolith.Options{Graph: &failingGraph{t: t}}).Operations
	gate := monolith.New(pool, monolith.Options{}).Operations
	require.Equal(t, monolith.WorkerTypes(), typeNames(working.RunnableTypes()), "the handlers a working process registers")
	require.Equal(t, monolith.WorkerTypes(), typeNames(gate.RunnableTypes()), "what a process without Graph declares")
	for _, ti := range operations.Types() {
		require.True(t, working.Runnable(ti.Type), "%s has a handler", ti.Type)
		require.True(t, gate.Runnable(ti.Type), ti.Type)
	}
}
