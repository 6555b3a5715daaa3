package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// TestProviderConnectionPages covers issue 12 point 1: the tenant's provider connections
// (status, consent, the default, the last verification run) and one connection's page
// (endpoint host, the kind of secret store but never the reference, its runs), the
// per-connection starts with spec 216's whole ProviderStartOutcome as the flash and in
// the API, and the RunDetail's provider connection, protected scope and short reason.
// Readonly members view verification runs but start nothing; an outsider gets 404.
func TestProviderConnectionPages(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	e := d.env
	ctx := e.Ctx
	second, err := e.App.Tenancy.AddProviderConnection(ctx, "system:test", tenancy.ProviderConnection{TenantID: e.Tenant,
		DisplayName: "Backup app", EntraTenantID: e.EntraTenant, ClientID: "second-app", SecretRef: monotest.SecretRef, GraphBaseURL: e.Sim.URL})
	require.NoError(t, err)
	require.False(t, second.IsDefault)
	require.NoError(t, e.App.Tenancy.SetConnectionStatus(ctx, "system:test", second.ID, tenancy.ConnectionConsentMissing, "provider_consent_missing"))
	verify := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, verify.Outcome, verify.Message)
	project := func(run uuid.UUID) {
		t.Helper()
		require.Eventually(t, func() bool {
			_, err := e.App.Store.Seal(ctx)
			require.NoError(t, err)
			for _, p := range []projections.Projection{projections.HubRuns{}, projections.ConnectionRuns{}} {
				_, err = e.App.Runner.CatchUp(ctx, p)
				require.NoError(t, err)
			}
			var n int
			require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM rm_connection_runs c JOIN rm_runs r USING (run_id)
				WHERE run_id = $1 AND r.status = 'completed'`, run).Scan(&n))
			return n == 1
		}, 30*time.Second, 20*time.Millisecond, "the run never reached the read models")
	}
	project(verify.ID)
	owner := d.seed.Users["owner"]
	owner.Token, _, err = e.App.Tenancy.IssueToken(ctx, "system:test", owner.ID, "connections")
	require.NoError(t, err)
	d.seed.Users["owner"] = owner

	h := serveHub(t, e.App, e.Pool, d.seed)
	ownerB, token := signedIn(t, h, "owner")
	base := "/admin/t/" + e.Tenant.String() + "/provider-connections"
	defaultURL, secondURL := base+"/"+e.Conn.String(), base+"/"+second.ID.String()
	secretName := strings.TrimPrefix(monotest.SecretRef, "env:")

	// The list: both connections, the default first with its last verification.
	resp, body := ownerB.get(base)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body = html.UnescapeString(body)
	require.Contains(t, body, `<a href="`+defaultURL+`">Graph simulator</a>`)
	require.Contains(t, body, `<a href="`+secondURL+`">Backup app</a>`)
	require.Less(t, strings.Index(body, defaultURL), strings.Index(body, secondURL), "the default first")
	require.Contains(t, body, ">default</span>")
	require.Contains(t, body, operations.RunURL(verify.ID), "the default's last verification run")
	require.Contains(t, body, "consent_missing")
	require.Contains(t, body, "never verified")
	require.Contains(t, body, `href="`+base+`" aria-current="page"`, "the tenant's sub-nav has the page")
	require.NotContains(t, body, secretName)

	// One connection: status, consent, host, the kind of secret store, its runs, starts.
	resp, body = ownerB.get(defaultURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body = html.UnescapeString(body)
	simURL, err := url.Parse(e.Sim.URL)
	require.NoError(t, err)
	require.Contains(t, body, simURL.Host)
	require.Contains(t, body, "environment variable")
	require.NotContains(t, body, secretName, "the secret reference is never shown")
	require.Contains(t, body, operations.RunURL(verify.ID))
	require.Contains(t, body, `id="last-verification"`)
	require.Contains(t, body, "granted")
	for _, typ := range []string{"provider.verify", "inventory.sync", "directory.groups.sync", "directory.role_definitions.sync"} {
		require.Contains(t, body, `action="/admin/provider-connections/`+e.Conn.String()+`/actions/`+typ+`/start"`)
	}
	require.NotContains(t, body, "/actions/drift.generate/")
	require.Less(t, strings.Index(body, "/actions/provider.verify/start"), strings.Index(body, "/actions/directory.groups.sync/start"), "verification first")

	// A start on the consent-missing connection is blocked; the flash is the whole outcome.
	startPath := func(conn uuid.UUID, typ string) string {
		return "/admin/provider-connections/" + conn.String() + "/actions/" + typ + "/start"
	}
	resp, _ = ownerB.post(startPath(second.ID, "inventory.sync"), url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, secondURL, resp.Header.Get("Location"))
	_, body = ownerB.get(secondURL)
	body = html.UnescapeString(body)
	require.Contains(t, body, "Sync inventory")
	require.Contains(t, body, "(Admin consent missing)")
	require.Contains(t, body, "Connection: Backup app")
	require.Contains(t, body, `<a href="`+secondURL+`">Open provider connection</a>`)
	require.Contains(t, body, `">View run</a>`)

	// The API's StartOutcome carries the same fields (additive).
	code, out := h.call(t, "owner", "POST", "/api/v1/tenants/"+e.Tenant.String()+"/operations/inventory.sync/start",
		`{"providerConnectionId":"`+second.ID.String()+`"}`)
	require.Equal(t, 200, code)
	require.Equal(t, "blocked", out["status"])
	require.Equal(t, "Sync", out["operatorVerb"])
	require.Equal(t, "inventory", out["operatorTarget"])
	conn := out["providerConnection"].(map[string]any)
	require.Equal(t, second.ID.String(), conn["id"])
	require.Equal(t, "Backup app", conn["label"])
	require.Equal(t, "microsoft", conn["provider"])
	actions := out["actions"].([]any)
	require.Len(t, actions, 2)
	require.Equal(t, map[string]any{"label": "View run", "href": out["run"].(map[string]any)["url"], "kind": "run"}, actions[0])
	require.Equal(t, map[string]any{"label": "Open provider connection", "href": secondURL, "kind": "provider_connection"}, actions[1])
	blockedRun := out["run"].(map[string]any)["id"].(string)

	// The RunDetail: the connection (id + name), the protected scope, the short reason.
	code, detail := h.call(t, "owner", "GET", "/api/v1/operations/"+blockedRun, "")
	require.Equal(t, 200, code)
	require.Equal(t, map[string]any{"id": second.ID.String(), "provider": "microsoft", "label": "Backup app"}, detail["providerConnection"])
	require.Equal(t, map[string]any{"tenantId": e.Tenant.String(), "providerConnectionId": second.ID.String()}, detail["protectedScope"])
	require.Equal(t, "Admin consent missing", detail["shortReason"])
	resp, body = ownerB.get("/admin/operations/" + blockedRun)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, html.UnescapeString(body), `<a href="`+secondURL+`">Backup app</a>`)
	require.Contains(t, body, `id="run-short-reason">Admin consent missing<`)
	code, detail = h.call(t, "owner", "GET", "/api/v1/operations/"+verify.ID.String(), "")
	require.Equal(t, 200, code)
	require.Nil(t, detail["shortReason"], "a succeeded run has no reason")
	var related []string
	for _, l := range detail["related"].([]any) {
		related = append(related, l.(map[string]any)["href"].(string))
	}
	require.Contains(t, related, defaultURL, "a verification's related page is its connection's")

	// Verifying the second connection is its own start (not a duplicate of the first's),
	// with the connection's name as the target.
	code, out = h.call(t, "owner", "POST", "/api/v1/tenants/"+e.Tenant.String()+"/operations/provider.verify/start",
		`{"providerConnectionId":"`+second.ID.String()+`"}`)
	require.Equal(t, 200, code)
	require.Contains(t, []any{"accepted", "deduped"}, out["status"])
	require.Equal(t, "Verify", out["operatorVerb"])
	require.Equal(t, "provider connection “Backup app”", out["operatorTarget"])
	secondVerify := uuid.MustParse(out["run"].(map[string]any)["id"].(string))
	require.NotEqual(t, verify.ID, secondVerify)
	require.Equal(t, operations.OutcomeSucceeded, e.Wait(t, secondVerify).Outcome)
	project(secondVerify)

	// Readonly views the connection and its verification runs, but starts nothing.
	reader, readerToken := signedIn(t, h, "readonly")
	resp, body = reader.get(secondURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, operations.RunURL(secondVerify), "the second connection's last verification")
	require.NotContains(t, body, "/actions/", "no start button for a readonly member")
	resp, _ = reader.get(operations.RunURL(secondVerify))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = reader.post(startPath(second.ID, "provider.verify"), url.Values{"_csrf": {readerToken}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Only the page's runnable types start from it; unknown or foreign ids are 404.
	for _, typ := range []string{"drift.generate", "backup_set.add_policies", "restore.execute", "nope"} {
		resp, _ = ownerB.post(startPath(e.Conn, typ), url.Values{"_csrf": {token}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, typ)
	}
	resp, _ = ownerB.post(startPath(e.Conn, "provider.verify"), url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token, no start")
	resp, _ = ownerB.post(startPath(e.Conn, "provider.verify"), url.Values{"_csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = ownerB.post(startPath(uuid.New(), "provider.verify"), url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = ownerB.get(base + "/" + uuid.NewString())
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = ownerB.get("/admin/t/" + d.other.String() + "/provider-connections/" + e.Conn.String())
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another tenant's connection under this tenant's URL")
	outsider, outsiderToken := signedIn(t, h, "outsider")
	resp, _ = outsider.post(startPath(e.Conn, "provider.verify"), url.Values{"_csrf": {outsiderToken}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = outsider.post(startPath(e.Conn, "drift.generate"), url.Values{"_csrf": {outsiderToken}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "an outsider learns nothing about the types either")
}
