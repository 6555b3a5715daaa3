package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

var nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// restoreHub serves seedGraphData's tenant (a sealed backup set of two policies, the
// simulator, workers) with API tokens for every role.
func restoreHub(t *testing.T) (*graphData, *hub) {
	t.Helper()
	d := seedGraphData(t)
	for _, who := range []string{"owner", "operator", "readonly", "compliance", "outsider"} {
		u := d.seed.Users[who]
		token, _, err := d.env.App.Tenancy.IssueToken(d.env.Ctx, "system:test", u.ID, "restores")
		require.NoError(t, err)
		u.Token = token
		d.seed.Users[who] = u
	}
	return d, serveHub(t, d.env.App, d.env.Pool, d.seed)
}

// waitRestore polls the API until the restore leaves status from (bounded).
func waitRestore(t *testing.T, h *hub, path, from string) map[string]any {
	t.Helper()
	var out map[string]any
	require.Eventually(t, func() bool {
		code, v := h.call(t, "owner", "GET", path, "")
		require.Equal(t, http.StatusOK, code)
		out = v
		return v["status"] != from
	}, 60*time.Second, 20*time.Millisecond, "the restore stayed %s", from)
	return out
}

func previewOf(t *testing.T, v map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, it := range v["preview"].([]any) {
		m := it.(map[string]any)
		out[m["policyId"].(string)] = m
	}
	return out
}

// TestRestoreAPI: the route × role matrix (only owners and managers restore: operator,
// readonly and compliance 403, an outsider 404), a bad body 422, the preview's per-item
// diff, a wrong confirmation 422 restore_confirmation_mismatch, then the execution's
// per-item results.
func TestRestoreAPI(t *testing.T) {
	t.Parallel()
	d, h := restoreHub(t)
	e := d.env
	dcs := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	changed := dcs[0]
	changed["description"] = "edited in the portal"
	e.Sim.SetObject(e.EntraTenant, "deviceConfigurations", changed)
	base := "/api/v1/tenants/" + e.Tenant.String() + "/restores"
	body := `{"backupSetId":"` + d.set.ID.String() + `"}`

	for who, want := range map[string]int{"operator": 403, "readonly": 403, "compliance": 403, "outsider": 404, "": 401, "bad": 401} {
		code, _ := h.call(t, who, "POST", base, body)
		require.Equal(t, want, code, who)
	}
	for _, bad := range []string{`{"backupSetId":"x"}`, `{"backupSetId":"` + uuid.NewString() + `"}`, `{"set":1}`, `[]`, ``} {
		code, out := h.call(t, "owner", "POST", base, bad)
		require.Equal(t, http.StatusUnprocessableEntity, code, bad)
		require.Contains(t, out["error"].(map[string]any)["message"], "backupSetId", bad)
	}
	code, _ := h.call(t, "owner", "POST", "/api/v1/tenants/"+d.other.String()+"/restores", body)
	require.Equal(t, http.StatusUnprocessableEntity, code, "another tenant's set is no set of this tenant")

	code, out := h.call(t, "owner", "POST", base, body)
	require.Equal(t, http.StatusCreated, code, out)
	id := out["id"].(string)
	require.Equal(t, "previewing", out["status"])
	require.Len(t, out["preview"], 2)
	require.Equal(t, "accepted", out["start"].(map[string]any)["status"])
	path := base + "/" + id

	for who, want := range map[string]int{"readonly": 200, "operator": 200, "outsider": 404} {
		code, _ := h.call(t, who, "GET", path, "")
		require.Equal(t, want, code, who)
	}
	code, _ = h.call(t, "owner", "GET", "/api/v1/tenants/"+d.other.String()+"/restores/"+id, "")
	require.Equal(t, http.StatusNotFound, code, "another tenant's URL")

	v := waitRestore(t, h, path, "previewing")
	require.Equal(t, "previewed", v["status"])
	items := previewOf(t, v)
	require.Equal(t, "updated", items[changed["id"].(string)]["diff"])
	require.Equal(t, []any{"description"}, items[changed["id"].(string)]["changedFields"])
	other := ""
	for pid := range items {
		if pid != changed["id"].(string) {
			other = pid
		}
	}
	require.Equal(t, "unchanged", items[other]["diff"], "the set's other item")
	require.Equal(t, "edited in the portal", e.Sim.Objects(e.EntraTenant, "deviceConfigurations")[0]["description"], "a preview never writes")

	exec := path + "/execute"
	for who, want := range map[string]int{"operator": 403, "readonly": 403, "compliance": 403, "outsider": 404, "": 401} {
		code, _ := h.call(t, who, "POST", exec, `{"confirm":"Contoso"}`)
		require.Equal(t, want, code, who)
	}
	for confirm, want := range map[string]string{`{"confirm":"contoso"}`: "restore_confirmation_mismatch", `{}`: "restore_confirmation_mismatch",
		`{"confirm":"Contoso","x":1}`: "unprocessable"} {
		code, out := h.call(t, "owner", "POST", exec, confirm)
		require.Equal(t, http.StatusUnprocessableEntity, code, confirm)
		require.Equal(t, want, out["error"].(map[string]any)["code"], confirm)
	}
	code, out = h.call(t, "owner", "POST", exec, `{"confirm":"Contoso","nonce":"click-1"}`)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "accepted", out["status"], out)
	run := e.Wait(t, uuid.MustParse(out["run"].(map[string]any)["id"].(string)))
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	v = waitRestore(t, h, path, "executing")
	require.Equal(t, "executed", v["status"])
	require.Equal(t, run.ID.String(), v["executeRunId"])
	items = previewOf(t, v)
	require.Equal(t, "updated", items[changed["id"].(string)]["result"])
	require.Equal(t, "skipped", items[other]["result"])
	require.NotEqual(t, "edited in the portal", e.Sim.Objects(e.EntraTenant, "deviceConfigurations")[0]["description"], "the backup's value is back")
	code, out = h.call(t, "owner", "POST", exec, `{"confirm":"Contoso","nonce":"click-2"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Equal(t, "restore_already_executed", out["error"].(map[string]any)["code"])
}

// TestRestoreHub: the owner finds "Restore…" on the backup set page (readonly does not),
// reaches the restore page whose preview the run stored, is refused a wrong typed
// confirmation (422, nothing started), then types the tenant's name and follows the run,
// which links back to the restore. Readonly sees the page without the form and may not
// post it (403); an outsider gets 404.
func TestRestoreHub(t *testing.T) {
	t.Parallel()
	d, h := restoreHub(t)
	e := d.env
	dcs := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	dcs[0]["description"] = "edited in the portal"
	e.Sim.SetObject(e.EntraTenant, "deviceConfigurations", dcs[0])
	setPage := "/admin/t/" + e.Tenant.String() + "/backups/" + d.set.ID.String()

	reader, _ := signedIn(t, h, "readonly")
	_, body := reader.get(setPage)
	require.NotContains(t, body, "Restore…")
	resp, _ := reader.post(setPage+"/restore", url.Values{"_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	owner, _ := signedIn(t, h, "owner")
	_, body = owner.get(setPage)
	require.Contains(t, body, "Restore…")
	resp, _ = owner.post(setPage+"/restore", url.Values{"_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	page := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(page, "/admin/t/"+e.Tenant.String()+"/restores/"), page)
	restoreID := uuid.MustParse(strings.TrimPrefix(page, "/admin/t/"+e.Tenant.String()+"/restores/"))
	_, body = reader.get(setPage)
	require.Contains(t, body, `href="`+page+`"`, "the set's page lists its restores")

	require.Eventually(t, func() bool {
		_, body = owner.get(page)
		return strings.Contains(body, "Execute restore")
	}, 60*time.Second, 20*time.Millisecond, "the preview never finished")
	require.Contains(t, body, "badge-changed\">updated")
	require.Contains(t, body, "description")

	resp, body = owner.post(page+"/execute", url.Values{"_csrf": {csrf(t, body)}, "nonce": {nonceRe.FindStringSubmatch(body)[1]}, "confirm": {"Contos"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "Type the tenant")
	r, err := e.App.Restore.Restore(e.Ctx, e.Tenant, restoreID)
	require.NoError(t, err)
	require.Equal(t, "previewed", string(r.Status), "a wrong confirmation starts nothing")

	_, body = reader.get(page)
	require.NotContains(t, body, "Execute restore")
	resp, _ = reader.post(page+"/execute", url.Values{"_csrf": {csrf(t, body)}, "nonce": {uuid.NewString()}, "confirm": {"Contoso"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	outsider, _ := signedIn(t, h, "outsider")
	resp, _ = outsider.get(page)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	_, body = owner.get(page)
	resp, _ = owner.post(page+"/execute", url.Values{"_csrf": {csrf(t, body)}, "nonce": {nonceRe.FindStringSubmatch(body)[1]}, "confirm": {"Contoso"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	runURL := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(runURL, "/admin/operations/"), runURL)
	run := e.Wait(t, uuid.MustParse(strings.TrimPrefix(runURL, "/admin/operations/")))
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	resp, body = owner.get(runURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `href="`+page+`"`, "the run links its restore")
	_, body = owner.get(page)
	require.Contains(t, body, "badge-succeeded\">updated")
	require.Contains(t, body, "skipped")
}

// TestRestoreSettingsAndHighRisk: high-risk restores are off by default; only a
// workspace owner turns them on (a manager 403, an outsider 404, audited); until then a
// restore holding a compliance policy previews but its execution is 422
// restore_high_risk_disabled.
func TestRestoreSettingsAndHighRisk(t *testing.T) {
	t.Parallel()
	d, h := restoreHub(t)
	e := d.env
	cp := e.Sim.Objects(e.EntraTenant, "compliancePolicies")[0]
	bk := e.Run(t, "backup_set.add_policies", `{"policies":[{"type":"compliancePolicies","id":"`+cp["id"].(string)+`"}]}`)
	require.Equal(t, operations.OutcomeSucceeded, bk.Outcome, bk.Message)
	set, err := e.App.Backup.SetOfRun(e.Ctx, bk.ID)
	require.NoError(t, err)

	settings := "/api/v1/workspaces/" + e.Workspace.String() + "/restore-settings"
	code, out := h.call(t, "readonly", "GET", settings, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, false, out["highRiskEnabled"], "off by default")
	for who, want := range map[string]int{"operator": 403, "readonly": 403, "outsider": 404} {
		code, _ := h.call(t, who, "PUT", settings, `{"highRiskEnabled":true}`)
		require.Equal(t, want, code, who)
	}
	code, _ = h.call(t, "owner", "PUT", settings, `{"enabled":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)

	base := "/api/v1/tenants/" + e.Tenant.String() + "/restores"
	code, out = h.call(t, "owner", "POST", base, `{"backupSetId":"`+set.ID.String()+`"}`)
	require.Equal(t, http.StatusCreated, code, out)
	path := base + "/" + out["id"].(string)
	v := waitRestore(t, h, path, "previewing")
	require.Equal(t, "previewed", v["status"])
	require.Equal(t, true, v["preview"].([]any)[0].(map[string]any)["highRisk"])
	code, out = h.call(t, "owner", "POST", path+"/execute", `{"confirm":"Contoso","nonce":"a"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Equal(t, "restore_high_risk_disabled", out["error"].(map[string]any)["code"])

	code, out = h.call(t, "owner", "PUT", settings, `{"highRiskEnabled":true}`)
	require.Equal(t, http.StatusOK, code, out)
	var n int
	require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = 'restore.settings.changed' AND data->'after'->>'highRiskEnabled' = 'true' AND data->'before'->>'highRiskEnabled' = 'false'`).Scan(&n))
	require.Equal(t, 1, n)
	code, out = h.call(t, "owner", "POST", path+"/execute", `{"confirm":"Contoso","nonce":"a"}`)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "accepted", out["status"])
}
