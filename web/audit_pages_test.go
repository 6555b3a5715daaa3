package web_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/projections"
)

// auditReady has readonly try a start (denied: an operation.start audit entry for
// tenant) and brings the audit log read model up to the sealed log.
func auditReady(t *testing.T, h *hub) string {
	t.Helper()
	tenant := h.seed.Tenants[0].ID.String()
	code, _ := h.call(t, "readonly", "POST", "/api/v1/tenants/"+tenant+"/operations/provider.verify/start", `{"context":{}}`)
	require.Equal(t, 403, code)
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.AuditLog{})
		require.NoError(t, err)
		var n int
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_audit_log WHERE tenant_id = $1 AND action = 'operation.start'`, tenant).Scan(&n))
		return n > 0
	}, 30*time.Second, 20*time.Millisecond)
	return tenant
}

// auditGet answers status and body of a GET as a principal ("" = no token).
func (h *hub) auditGet(t *testing.T, who, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", h.base+path, nil)
	require.NoError(t, err)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+h.seed.Users[who].Token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(raw)
}

// TestAuditRoutesRoleMatrix: every compliance route as owner, operator, readonly,
// compliance, outsider and no token, on the API and in the hub: audit.view (owner,
// compliance) reads and replays, audit.export (owner, compliance) exports; members
// without the capability 403, non-members 404, no credentials 401 / the login page.
func TestAuditRoutesRoleMatrix(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	tenant := auditReady(t, h)
	principals := []string{"owner", "operator", "readonly", "compliance", "outsider", ""}
	routes := []struct {
		path string
		want []int // per principal
	}{
		{"/api/v1/audit?tenant=" + tenant, []int{200, 403, 403, 200, 404, 401}},
		{"/api/v1/audit/export?format=jsonl&tenant=" + tenant, []int{200, 403, 403, 200, 404, 401}},
		{"/api/v1/audit/export?format=csv&tenant=" + tenant, []int{200, 403, 403, 200, 404, 401}},
		{"/api/v1/tenants/" + tenant + "/replay", []int{200, 403, 403, 200, 404, 401}},
		{"/api/v1/tenants/" + tenant + "/replay?asOf=2020-01-01T00:00:00Z", []int{200, 403, 403, 200, 404, 401}},
	}
	for _, r := range routes {
		for i, who := range principals {
			resp, body := h.auditGet(t, who, r.path)
			require.Equal(t, r.want[i], resp.StatusCode, "%s as %q: %s", r.path, who, body)
			if resp.StatusCode >= 400 {
				var e map[string]map[string]string
				require.NoError(t, json.Unmarshal([]byte(body), &e), body)
				require.NotEmpty(t, e["error"]["code"])
			}
		}
	}
	// Without a tenant filter, operator and readonly have audit.view nowhere (403); the
	// outsider, owner of another workspace, reads its own (none of this workspace's).
	for who, want := range map[string]int{"owner": 200, "operator": 403, "readonly": 403, "compliance": 200, "outsider": 200} {
		resp, body := h.auditGet(t, who, "/api/v1/audit")
		require.Equal(t, want, resp.StatusCode, who)
		if who == "outsider" {
			require.NotContains(t, body, tenant)
		}
	}

	hubRoutes := []struct {
		path string
		want []int
	}{
		{"/admin/audit", []int{200, 403, 403, 200, 200}},
		{"/admin/audit?tenant=" + tenant, []int{200, 403, 403, 200, 404}},
		{"/admin/audit/export?format=csv&tenant=" + tenant, []int{200, 403, 403, 200, 404}},
		{"/admin/audit/replay?tenant=" + tenant, []int{200, 403, 403, 200, 404}},
	}
	browsers := map[string]*browser{}
	for _, who := range principals[:5] {
		b := newBrowser(t, h)
		b.login(who)
		browsers[who] = b
	}
	for _, r := range hubRoutes {
		for i, who := range principals[:5] {
			resp, _ := browsers[who].get(r.path)
			require.Equal(t, r.want[i], resp.StatusCode, "%s as %s", r.path, who)
		}
		resp, _ := newBrowser(t, h).get(r.path)
		require.Equal(t, http.StatusFound, resp.StatusCode, "%s without a session goes to the login", r.path)
		require.Equal(t, "/admin/login", resp.Header.Get("Location"))
	}
	// The nav offers Audit only to those who may read it.
	_, body := browsers["compliance"].get("/admin/operations")
	require.Contains(t, body, `href="/admin/audit"`)
	_, body = browsers["operator"].get("/admin/operations")
	require.NotContains(t, body, `href="/admin/audit"`)
}

// TestAuditPagesFilterPageExportAndReplay: the API filters and pages by keyset, the
// export carries the chain head and every filtered entry, the hub page lists them with
// the export buttons, and a run's and a tenant's replay render from the log.
func TestAuditPagesFilterPageExportAndReplay(t *testing.T) {
	t.Parallel()
	h := startAuditHub(t) // an audit log of its own: the package's other tests start runs on the shared database
	tenant := auditReady(t, h)
	for range 2 { // more start attempts, each an audit entry: denied ones
		code, _ := h.call(t, "readonly", "POST", "/api/v1/tenants/"+tenant+"/operations/provider.verify/start", `{"context":{}}`)
		require.Equal(t, 403, code)
	}
	// and a run to replay.
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start", `{"context":{"baseline":"audit-test"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)
	var total int
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.AuditLog{})
		require.NoError(t, err)
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_audit_log WHERE tenant_id = $1 AND action = 'operation.start'`, tenant).Scan(&total))
		return total >= 4
	}, 30*time.Second, 20*time.Millisecond)

	// Keyset paging, two at a time, newest first, every entry once.
	seen := map[string]bool{}
	var last float64
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		code, v := h.call(t, "compliance", "GET", "/api/v1/audit?limit=2&action=operation.start&tenant="+tenant+cursor, "")
		require.Equal(t, 200, code, v)
		for _, raw := range v["events"].([]any) {
			e := raw.(map[string]any)
			require.Equal(t, "operation.start", e["action"])
			require.Equal(t, tenant, e["tenantId"])
			require.NotEmpty(t, e["outcome"])
			require.NotEmpty(t, e["at"])
			require.Len(t, e["hash"].(string), 64)
			require.False(t, seen[e["id"].(string)])
			seen[e["id"].(string)] = true
			if last != 0 {
				require.Less(t, e["position"].(float64), last)
			}
			last = e["position"].(float64)
		}
		next, ok := v["nextCursor"].(string)
		if !ok {
			break
		}
		cursor = "&cursor=" + next
	}
	require.Len(t, seen, total)
	code, v := h.call(t, "compliance", "GET", "/api/v1/audit?outcome=no_such_outcome&tenant="+tenant, "")
	require.Equal(t, 200, code)
	require.Empty(t, v["events"])
	for _, bad := range []string{"cursor=abc", "action=DROP%20TABLE", "since=yesterday", "tenant=nope", "outcome=a-b"} {
		code, _ := h.call(t, "compliance", "GET", "/api/v1/audit?"+bad, "")
		require.Equal(t, 422, code, bad)
	}
	code, _ = h.call(t, "compliance", "GET", "/api/v1/audit/export?format=xml", "")
	require.Equal(t, 422, code)

	// The export: the chain head first, then every filtered entry oldest first, then the end.
	resp, body := h.auditGet(t, "compliance", "/api/v1/audit/export?format=jsonl&action=operation.start&tenant="+tenant)
	require.Equal(t, 200, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("X-Atlas-Chain-Head"))
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		lines = append(lines, m)
	}
	require.GreaterOrEqual(t, len(lines), 2+total)
	head := lines[0]["chainHead"].(map[string]any)
	require.Greater(t, head["position"].(float64), 0.0)
	require.Len(t, head["hash"].(string), 64)
	require.Equal(t, true, lines[len(lines)-1]["end"])
	require.Equal(t, float64(total), lines[len(lines)-1]["events"])
	for _, l := range lines[1 : len(lines)-1] {
		require.Equal(t, "operation.start", l["action"])
		require.Len(t, l["hash"].(string), 64)
		require.LessOrEqual(t, l["position"].(float64), head["position"].(float64))
	}
	var hash []byte
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT chain_hash FROM es_events WHERE global_position = $1`, int64(head["position"].(float64))).Scan(&hash))
	require.Len(t, hash, 32)
	resp, body = h.auditGet(t, "owner", "/api/v1/audit/export?format=csv&tenant="+tenant)
	require.Equal(t, 200, resp.StatusCode)
	require.True(t, strings.HasPrefix(body, "# chain head: position "), body)
	require.Contains(t, body, "\nposition,id,at,action,outcome,actor,")
	require.Contains(t, body, "operation.start")

	// The tenant's replay over the API, now and before anything happened.
	code, v = h.call(t, "compliance", "GET", "/api/v1/tenants/"+tenant+"/replay", "")
	require.Equal(t, 200, code)
	require.NotEmpty(t, v["runs"])
	require.Equal(t, h.seed.Tenants[0].Name, v["name"])
	code, v = h.call(t, "compliance", "GET", "/api/v1/tenants/"+tenant+"/replay?asOf=2000-01-01T00:00:00Z", "")
	require.Equal(t, 200, code)
	require.Empty(t, v["runs"])
	code, _ = h.call(t, "compliance", "GET", "/api/v1/tenants/"+tenant+"/replay?asOf=soon", "")
	require.Equal(t, 422, code)

	// The hub: the list with export buttons and replay links; a run's replay.
	b := newBrowser(t, h)
	b.login("compliance")
	resp2, page := b.get("/admin/audit?action=operation.start&tenant=" + tenant)
	require.Equal(t, 200, resp2.StatusCode)
	require.Contains(t, page, "Export JSONL")
	require.Contains(t, page, `/admin/audit/export?action=operation.start&amp;format=csv&amp;tenant=`+tenant)
	require.Contains(t, page, "denied")
	require.Contains(t, page, "/admin/audit/replay?tenant="+tenant)
	resp2, page = b.get("/admin/audit/replay?run=" + runID)
	require.Equal(t, 200, resp2.StatusCode)
	require.Contains(t, page, "RunQueued")
	resp2, _ = b.get("/admin/audit/replay?run=" + runID + "&asOf=2000-01-01T00:00:00Z")
	require.Equal(t, 404, resp2.StatusCode)
	outsider := newBrowser(t, h)
	outsider.login("outsider")
	resp2, _ = outsider.get("/admin/audit/replay?run=" + runID)
	require.Equal(t, 404, resp2.StatusCode)
	resp2, _ = b.get("/admin/audit/replay")
	require.Equal(t, 422, resp2.StatusCode)
}
