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
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
)

// scheduleHub serves a fresh seeded database of its own (its runs are the test's only).
func scheduleHub(t *testing.T) *hub {
	t.Helper()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	return serveHub(t, a, pool, s)
}

// TestScheduleAPI: create, list, read and patch schedules; a bad cron or zone is a 422
// naming the field; the route × role matrix (readonly reads but may not write: 403; an
// outsider and another tenant's schedule: 404).
func TestScheduleAPI(t *testing.T) {
	t.Parallel()
	h := scheduleHub(t)
	tenant := h.seed.Tenants[0].ID.String()
	base := "/api/v1/tenants/" + tenant + "/backup-schedules"

	for body, want := range map[string]string{
		`{"cron":"61 * * * *","timezone":"UTC","policyTypes":["deviceConfigurations"]}`:            "cron: minute: 61 is outside 0-59",
		`{"cron":"30 2 * * *","timezone":"Europe/Nowhere","policyTypes":["deviceConfigurations"]}`: "timezone: must be an IANA time zone",
		`{"cron":5,"timezone":"UTC","policyTypes":["deviceConfigurations"]}`:                       "cron: must be a string",
		`{"cron":"30 2 * * *","timezone":"UTC","policyTypes":["nope"]}`:                            "policyTypes: each must be one of",
		`{"cron":"30 2 * * *","timezone":"UTC","policyTypes":["deviceConfigurations"],"x":1}`:      "x: unknown field",
		`[]`: "body:",
		``:   "body:",
	} {
		code, out := h.call(t, "owner", "POST", base, body)
		require.Equal(t, http.StatusUnprocessableEntity, code, body)
		require.Contains(t, out["error"].(map[string]any)["message"], want, body)
	}

	code, out := h.call(t, "operator", "POST", base, `{"cron":"30 2 * * *","timezone":"Europe/Berlin","policyTypes":["deviceConfigurations"],"retention":3}`)
	require.Equal(t, http.StatusCreated, code, out)
	id := out["id"].(string)
	for _, k := range []string{"id", "cron", "timezone", "policyTypes", "enabled", "nextRunAt"} {
		require.Contains(t, out, k)
	}
	require.Equal(t, "30 2 * * *", out["cron"])
	require.Equal(t, "Europe/Berlin", out["timezone"])
	require.Equal(t, []any{"deviceConfigurations"}, out["policyTypes"])
	require.Equal(t, true, out["enabled"])
	next, err := time.Parse(time.RFC3339, out["nextRunAt"].(string))
	require.NoError(t, err)
	require.Equal(t, 30, next.In(mustLoad(t, "Europe/Berlin")).Minute())

	code, out = h.call(t, "readonly", "GET", base, "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, out["schedules"], 1)
	code, out = h.call(t, "readonly", "GET", base+"/"+id, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, id, out["id"])

	code, out = h.call(t, "owner", "PATCH", base+"/"+id, `{"timezone":"Mars/Base"}`)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, out["error"].(map[string]any)["message"], "timezone:")
	code, out = h.call(t, "owner", "PATCH", base+"/"+id, `{"enabled":false}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, false, out["enabled"])
	require.Nil(t, out["nextRunAt"])

	other := "/api/v1/tenants/" + h.seed.Tenants[1].ID.String() + "/backup-schedules/" + id
	for _, c := range []struct {
		who, method, path, body string
		want                    int
	}{
		{"readonly", "POST", base, `{"cron":"0 1 * * *","timezone":"UTC","policyTypes":["deviceConfigurations"]}`, http.StatusForbidden},
		{"readonly", "PATCH", base + "/" + id, `{"enabled":true}`, http.StatusForbidden},
		{"compliance", "PATCH", base + "/" + id, `{"enabled":true}`, http.StatusForbidden},
		{"outsider", "GET", base, "", http.StatusNotFound},
		{"outsider", "POST", base, `{"cron":"0 1 * * *","timezone":"UTC","policyTypes":["deviceConfigurations"]}`, http.StatusNotFound},
		{"outsider", "PATCH", base + "/" + id, `{"enabled":true}`, http.StatusNotFound},
		{"owner", "GET", other, "", http.StatusNotFound},
		{"owner", "PATCH", other, `{"enabled":true}`, http.StatusNotFound},
		{"owner", "GET", base + "/" + uuid.NewString(), "", http.StatusNotFound},
		{"owner", "GET", base + "/nope", "", http.StatusNotFound},
		{"", "GET", base, "", http.StatusUnauthorized},
	} {
		code, _ := h.call(t, c.who, c.method, c.path, c.body)
		require.Equal(t, c.want, code, "%s %s %s", c.who, c.method, c.path)
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

var nonceField = regexp.MustCompile(`name="nonce" value="([0-9a-f-]{36})"`)

// TestSchedulePages: the owner creates a schedule in the hub (a bad cron is shown on
// the form, 422), edits and disables it (audited), clicks Run now: a double-submit of
// one form is one run, another page load is another click; the schedule page lists its
// executions from the read model. Readonly views but gets 403 on every write, and is
// offered no button; an outsider gets 404.
func TestSchedulePages(t *testing.T) {
	t.Parallel()
	h := scheduleHub(t)
	tenant := h.seed.Tenants[0].ID.String()
	list := "/admin/t/" + tenant + "/backups/schedules"
	owner := newBrowser(t, h)
	owner.login("owner")

	resp, body := owner.get(list)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "No backup schedules yet.")
	token := csrf(t, body)
	form := url.Values{"_csrf": {token}, "name": {"Nightly"}, "cron": {"30 25 * * *"}, "timezone": {"Europe/Berlin"},
		"policyTypes": {"deviceConfigurations", "settingsCatalogPolicies"}, "retention": {"5"}, "enabled": {"on"}}
	resp, body = owner.post(list, form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "hour: 25 is outside 0-23")
	require.Contains(t, body, `value="30 25 * * *"`, "the form keeps what was typed")
	form.Set("cron", "30 2 * * *")
	resp, _ = owner.post(list, form)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	page := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(page, list+"/"), page)
	schedID := strings.TrimPrefix(page, list+"/")

	resp, body = owner.get(page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "Nightly")
	require.Contains(t, body, "Run now")
	require.NotContains(t, body, ">Retry<", "no failed run: no Retry")
	require.Contains(t, body, "No runs yet.")
	nonce := nonceField.FindStringSubmatch(body)[1]
	token = csrf(t, body)

	// Edit (a bad zone is shown on the form), then disable and enable.
	edit := url.Values{"_csrf": {token}, "name": {"Nightly"}, "cron": {"30 2 * * *"}, "timezone": {"Atlantis/Capital"},
		"policyTypes": {"deviceConfigurations"}, "retention": {"5"}, "enabled": {"on"}}
	resp, body = owner.post(page, edit)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "must be an IANA time zone")
	edit.Set("timezone", "UTC")
	resp, _ = owner.post(page, edit)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = owner.post(page+"/enabled", url.Values{"_csrf": {token}, "enabled": {"false"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body = owner.get(page)
	require.Contains(t, body, "disabled")
	require.Contains(t, body, ">Enable</button>")
	resp, _ = owner.post(page+"/enabled", url.Values{"_csrf": {token}, "enabled": {"maybe"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	var audits int
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'target' = $1 AND data->'before' IS NOT NULL AND data->'after' IS NOT NULL`, "backup_schedule:"+schedID).Scan(&audits))
	require.Equal(t, 2, audits, "the edit and the disable, each with before and after")

	// Run now: one form submitted twice is one run; a new page load is a new click.
	click := url.Values{"_csrf": {token}, "nonce": {nonce}}
	resp, _ = owner.post(page+"/run", click)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = owner.post(page+"/run", click)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var runs int
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs WHERE type = 'backup_schedule.run_now'`).Scan(&runs))
	require.Equal(t, 1, runs, "a double-submit is one run")
	var runID string
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT run_id::text FROM ops_runs WHERE type = 'backup_schedule.run_now'`).Scan(&runID))
	// End it, so the next click is not scope_busy (no worker serves this hub).
	_, err := h.app.Pool.Exec(t.Context(), `UPDATE ops_runs SET queued_at = queued_at - interval '1 hour' WHERE run_id = $1`, runID)
	require.NoError(t, err)
	n, err := h.app.Operations.Sweep(t.Context())
	require.NoError(t, err)
	require.Positive(t, n)
	_, body = owner.get(page)
	require.Contains(t, body, ">Retry</button>", "the last run failed (swept): Retry is offered")
	second := nonceField.FindStringSubmatch(body)[1]
	require.NotEqual(t, nonce, second, "each page load is a new click")
	resp, _ = owner.post(page+"/run", url.Values{"_csrf": {token}, "nonce": {second}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs WHERE type = 'backup_schedule.run_now'`).Scan(&runs))
	require.Equal(t, 2, runs, "two clicks, two runs")
	resp, _ = owner.post(page+"/run", url.Values{"_csrf": {token}, "nonce": {"not-a-nonce"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// The page lists both runs; the newest is queued, so Retry is no longer offered and
	// a forged retry is refused.
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		_, body = owner.get(page)
		return strings.Count(body, "Backup schedule: run now") >= 2
	}, 30*time.Second, 50*time.Millisecond, "the executions never showed")
	require.Contains(t, body, "/admin/operations/"+runID)
	require.NotContains(t, body, ">Retry<", "the newest run is queued, not failed")
	resp, _ = owner.post(page+"/retry", url.Values{"_csrf": {token}, "nonce": {uuid.NewString()}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// Roles: readonly views, writes nothing; an outsider sees nothing.
	reader := newBrowser(t, h)
	reader.login("readonly")
	resp, body = reader.get(page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, "Run now")
	require.NotContains(t, body, "Create schedule")
	rtoken := csrf(t, body)
	resp, body = reader.get(list)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, "New schedule")
	for _, p := range []string{list, page, page + "/enabled", page + "/run", page + "/retry"} {
		resp, _ := reader.post(p, url.Values{"_csrf": {rtoken}, "nonce": {uuid.NewString()}, "enabled": {"true"}, "cron": {"0 1 * * *"},
			"timezone": {"UTC"}, "policyTypes": {"deviceConfigurations"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, p)
	}
	outsider := newBrowser(t, h)
	outsider.login("outsider")
	for _, p := range []string{list, page} {
		resp, _ := outsider.get(p)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
	}
	resp, _ = owner.get("/admin/t/" + h.seed.Tenants[1].ID.String() + "/backups/schedules/" + schedID)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another tenant's schedule")
}
