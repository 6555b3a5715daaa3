package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// runbookHub serves a fresh demo database with the runbook's handler, workers, the
// sealer and the hub_runs projection running, and two drift reports on the first demo
// tenant (2 consolidated findings: displayName seen twice, version once).
func runbookHub(t *testing.T) *hub {
	t.Helper()
	h := startHubTB(t, pgtest.Fresh(t))
	h.app.Runbooks.Register(h.app.Operations)
	bg, stop := context.WithCancel(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.app.Store.RunSealer(bg, 20*time.Millisecond) })
	wg.Go(func() { _ = h.app.Runner.Run(bg, projections.HubRuns{}) })
	wg.Go(func() {
		_ = h.app.Operations.RunWorkers(bg, operations.WorkerOptions{PollInterval: 20 * time.Millisecond})
	})
	t.Cleanup(func() { stop(); wg.Wait() })
	tenant := h.seed.Tenants[0].ID
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i, changes := range []string{`[{"field":"displayName","before":"a","after":"b"},{"field":"version","before":1,"after":2}]`,
		`[{"field":"displayName","before":"b","after":"c"}]`} {
		run := uuid.Must(uuid.NewV7())
		_, err := h.app.Pool.Exec(t.Context(), `INSERT INTO drift_reports (run_id, tenant_id, baseline_snapshot_id, current_snapshot_id, generated_at, added, removed, changed)
			VALUES ($1, $2, $3, $4, $5, 0, 0, 1)`, run, tenant, uuid.New(), uuid.New(), at.Add(time.Duration(i)*time.Hour))
		require.NoError(t, err)
		_, err = h.app.Pool.Exec(t.Context(), `INSERT INTO drift_findings (run_id, tenant_id, policy_type, policy_id, display_name, kind, changes)
			VALUES ($1, $2, 'compliancePolicies', 'p1', 'Policy 1', 'changed', $3::jsonb)`, run, tenant, changes)
		require.NoError(t, err)
	}
	return h
}

// systemCSRF is the CSRF token of a /system page.
func systemCSRF(t *testing.T, body string) string {
	t.Helper()
	m := systemCSRFRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF input in %s", body)
	return m[2]
}

// waitRun waits until the run has ended.
func waitRun(t *testing.T, h *hub, id uuid.UUID) *operations.Run {
	t.Helper()
	var run *operations.Run
	require.Eventually(t, func() bool {
		var err error
		run, err = h.app.Operations.Load(t.Context(), id)
		require.NoError(t, err)
		return run.Terminal()
	}, 30*time.Second, 10*time.Millisecond)
	return run
}

// TestSystemRunbooks: the catalog, a preflight's figures, the run form's rules (typed
// confirmation, reason for all tenants: 422 naming what is wrong), an accepted run that
// lands on its /system page and completes with the tenant's figures, the run history
// and its live stream, and the audit entries with the client's address and agent.
func TestSystemRunbooks(t *testing.T) {
	t.Parallel()
	h := runbookHub(t)
	ws, tenant := h.seed.Workspace, h.seed.Tenants[0].ID
	inWorkspace, err := h.app.Tenancy.TenantsOf(t.Context(), ws)
	require.NoError(t, err)
	b := newBrowser(t, h)
	b.platformLogin("platform")

	resp, body := b.get("/system/ops/runbooks")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	for _, want := range []string{runbooks.BackfillKey, "Findings lifecycle backfill", string(tenancy.PlatformFindingsLifecycleBackfill),
		"Estimated duration", `value="all:` + ws.String() + `"`, `value="tenant:` + tenant.String() + `"`, `href="/system/ops/runbooks"`, `href="/system/ops/runs"`} {
		require.Contains(t, body, want)
	}
	token := systemCSRF(t, body)
	base := "/system/ops/runbooks/" + runbooks.BackfillKey

	resp, body = b.post(base+"/preflight", url.Values{"_csrf": {token}, "scope": {"all:" + ws.String()}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `<dd id="preflight-total" class="num">2</dd>`)
	require.Contains(t, body, `<dd id="preflight-affected" class="num">2</dd>`)
	require.Contains(t, body, `<dd id="preflight-tenants" class="num">`+itoa(len(inWorkspace))+`</dd>`)
	require.Contains(t, body, `name="confirm"`, "the run form follows the preflight")
	resp, _ = b.post(base+"/preflight", url.Values{"_csrf": {token}, "scope": {"sideways:" + ws.String()}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = b.post("/system/ops/runbooks/no.such.runbook/preflight", url.Values{"_csrf": {token}, "scope": {"all:" + ws.String()}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = b.post(base+"/preflight", url.Values{"scope": {"all:" + ws.String()}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")

	run := func(form url.Values) (*http.Response, string) {
		form.Set("_csrf", token)
		return b.post(base+"/run", form)
	}
	resp, body = run(url.Values{"scope": {"all:" + ws.String()}, "confirm": {"findings"}, "reasonCode": {"DATA_REPAIR"}, "reasonText": {"x"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "confirmation: type the runbook key")
	resp, body = run(url.Values{"scope": {"all:" + ws.String()}, "confirm": {runbooks.BackfillKey}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "a run over all tenants needs a reason")
	resp, body = run(url.Values{"scope": {"all:" + ws.String()}, "confirm": {runbooks.BackfillKey}, "reasonCode": {"BECAUSE"}, "reasonText": {"x"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "reasonCode: must be one of DATA_REPAIR, INCIDENT, SUPPORT, SECURITY")
	var runs int
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs WHERE type = $1`, runbooks.BackfillKey).Scan(&runs))
	require.Zero(t, runs, "no refused form made a run")

	resp, body = run(url.Values{"scope": {"all:" + ws.String()}, "confirm": {runbooks.BackfillKey}, "reasonCode": {"DATA_REPAIR"}, "reasonText": {"ticket 7"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/system/ops/runs/"), loc)
	id := uuid.MustParse(strings.TrimPrefix(loc, "/system/ops/runs/"))
	done := waitRun(t, h, id)
	require.Equal(t, operations.OutcomeSucceeded, done.Outcome, done.Message)
	require.Equal(t, operations.Counts{"tenants": int64(len(inWorkspace)), "total": 2, "processed": 2, "updated": 2}, done.Counts)
	require.Equal(t, "system", done.SourceSurface)

	resp, body = b.get(loc)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	for _, want := range []string{`data-bucket="succeeded"`, "<td>updated</td>", `<details id="run-context">`, "ticket 7", h.seed.Platform.Email} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "/admin/operations/", "no hub links on /system")
	resp, body = b.get(loc + "/stream")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "event: run")
	require.Contains(t, body, `"status":"completed"`)

	require.Eventually(t, func() bool {
		_, body = b.get("/system/ops/runs")
		return strings.Contains(body, `href="`+loc+`"`) && strings.Contains(body, `badge-succeeded`)
	}, 10*time.Second, 20*time.Millisecond, "the run history lists the run, succeeded, once projected")
	resp, body = b.get("/system/ops/runs?bucket=failed")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, loc)
	require.Contains(t, body, "No runs match these filters")
	resp, _ = b.get("/system/ops/runs?type=inventory.sync")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = b.get("/system/ops/runs/" + uuid.NewString())
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	rows, err := h.app.Pool.Query(t.Context(), `SELECT data->>'action', data->>'outcome', data->>'actor', data->>'ip', data->>'userAgent', data->'after'
		FROM es_events WHERE event_type = 'AuditRecorded' AND data->>'action' LIKE 'platform.ops.runbooks.%' ORDER BY seq`)
	require.NoError(t, err)
	var actions []string
	for rows.Next() {
		var action, outcome, actor, ip, ua string
		var after json.RawMessage
		require.NoError(t, rows.Scan(&action, &outcome, &actor, &ip, &ua, &after))
		actions = append(actions, action+":"+outcome)
		require.True(t, strings.HasPrefix(actor, "platform:"), actor)
		require.Equal(t, "127.0.0.1", ip)
		require.NotEmpty(t, ua)
		require.Contains(t, string(after), `"runbook":"findings.lifecycle.backfill"`)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"platform.ops.runbooks.preflight:succeeded", "platform.ops.runbooks.start:accepted",
		"platform.ops.runbooks.completed:succeeded"}, actions)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestSystemRunbooksCapabilities: the route × platform capability matrix (every
// capability; platform.ops.view only; runbooks view only; runbooks view + run without
// the runbook's own capability), a hub session on /system, and a hub run on /system.
func TestSystemRunbooksCapabilities(t *testing.T) {
	t.Parallel()
	h := runbookHub(t)
	ws := h.seed.Workspace
	mk := func(caps ...tenancy.PlatformCapability) *browser {
		email := "cap-" + uuid.NewString()[:8] + "@platform.test"
		_, err := h.app.Tenancy.CreatePlatformUser(t.Context(), "system:test", tenancy.NewPlatformUser{Email: email,
			Password: "a platform passphrase", Capabilities: caps})
		require.NoError(t, err)
		b := newBrowser(t, h)
		resp, _ := b.systemLogin(email, "a platform passphrase")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		return b
	}
	full := newBrowser(t, h)
	full.platformLogin("platform")
	viewer := newBrowser(t, h)
	viewer.platformLogin("platform_viewer")
	looker := mk(tenancy.PlatformRunbooksView)
	noKey := mk(tenancy.PlatformOpsView, tenancy.PlatformRunbooksView, tenancy.PlatformRunbooksRun)

	// A run to look at, started by the full user.
	_, body := full.get("/system/ops/runbooks")
	form := url.Values{"_csrf": {systemCSRF(t, body)}, "scope": {"tenant:" + h.seed.Tenants[1].ID.String()}, "confirm": {runbooks.BackfillKey}}
	resp, _ := full.post("/system/ops/runbooks/"+runbooks.BackfillKey+"/run", form)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	runURL := resp.Header.Get("Location")
	waitRun(t, h, uuid.MustParse(strings.TrimPrefix(runURL, "/system/ops/runs/")))

	type route struct{ method, path string }
	pre, run := "/system/ops/runbooks/"+runbooks.BackfillKey+"/preflight", "/system/ops/runbooks/"+runbooks.BackfillKey+"/run"
	routes := []route{{"GET", "/system/ops/runbooks"}, {"POST", pre}, {"POST", run}, {"GET", "/system/ops/runs"}, {"GET", runURL}, {"GET", runURL + "/stream"}}
	want := map[*browser][]int{
		full:   {200, 200, 422, 200, 200, 200}, // the run post lacks its confirmation: 422, past authorization
		viewer: {403, 403, 403, 200, 200, 200},
		looker: {200, 200, 403, 403, 403, 403},
		noKey:  {200, 200, 403, 200, 200, 200},
	}
	for b, codes := range want {
		_, page := b.get("/system/ops/does-not-matter")
		token := systemCSRF(t, page)
		for i, r := range routes {
			var resp *http.Response
			var body string
			if r.method == "GET" {
				resp, body = b.get(r.path)
			} else {
				resp, body = b.post(r.path, url.Values{"_csrf": {token}, "scope": {"all:" + ws.String()}})
			}
			require.Equal(t, codes[i], resp.StatusCode, "%s %s: %s", r.method, r.path, body)
			if codes[i] == http.StatusForbidden {
				require.Contains(t, body, "Your platform capabilities do not allow this.")
			}
		}
	}
	_, body = viewer.get("/system/ops/runs")
	require.NotContains(t, body, `href="/system/ops/runbooks"`, "no link the user cannot open")

	// A hub session is no /system session; a hub run is no /system run.
	owner := newBrowser(t, h)
	owner.login("owner")
	resp, _ = owner.get("/system/ops/runbooks")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/system/login", resp.Header.Get("Location"))
	resp, _ = owner.get(runURL)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	hubRun, err := h.app.Operations.Start(t.Context(), operations.StartRequest{Type: "inventory.sync", TenantID: h.seed.Tenants[0].ID,
		Initiator: operations.Initiator{Kind: "user", UserID: h.seed.Users["owner"].ID}, SourceSurface: "test"})
	require.NoError(t, err)
	resp, _ = full.get("/system/ops/runs/" + hubRun.Run.ID.String())
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestSystemRunbookBreakGlass: a break-glass user needs a reason even for one tenant
// (422), and the flag is on the run, its page and its audit entry.
func TestSystemRunbookBreakGlass(t *testing.T) {
	t.Parallel()
	h := runbookHub(t)
	email := "glass-" + uuid.NewString()[:8] + "@platform.test"
	_, err := h.app.Tenancy.CreatePlatformUser(t.Context(), "system:test", tenancy.NewPlatformUser{Email: email,
		Password: "a platform passphrase", Capabilities: tenancy.PlatformCapabilities(), BreakGlass: true})
	require.NoError(t, err)
	b := newBrowser(t, h)
	resp, _ := b.systemLogin(email, "a platform passphrase")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body := b.get("/system/ops/runbooks")
	form := url.Values{"_csrf": {systemCSRF(t, body)}, "scope": {"tenant:" + h.seed.Tenants[0].ID.String()}, "confirm": {runbooks.BackfillKey}}
	resp, body = b.post("/system/ops/runbooks/"+runbooks.BackfillKey+"/run", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "a break-glass user&#39;s run needs a reason")
	form.Set("reasonCode", "INCIDENT")
	form.Set("reasonText", "INC-1234")
	resp, body = b.post("/system/ops/runbooks/"+runbooks.BackfillKey+"/run", form)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	loc := resp.Header.Get("Location")
	run := waitRun(t, h, uuid.MustParse(strings.TrimPrefix(loc, "/system/ops/runs/")))
	require.True(t, run.Initiator.BreakGlass)
	_, body = b.get(loc)
	require.Contains(t, body, `id="run-break-glass"`)
	var flag string
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT data->'after'->>'breakGlass' FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = 'platform.ops.runbooks.start'`).Scan(&flag))
	require.Equal(t, "true", flag)
}
