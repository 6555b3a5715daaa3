package web_test

import (
	"encoding/csv"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

// TestRunSearchAndCSVExport searches GET /api/v1/operations by context, initiator and id
// prefix (with the other filters), refuses bad searches with a 422, and exports the
// filtered list as CSV, in batches of 2, exactly as the list pages it (same runs, same
// order), on the API and the hub, with the list's visibility and a route × role matrix.
func TestRunSearchAndCSVExport(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	h := serveHub(t, a, pool, s, func(d *web.Deps) { d.ExportBatch = 2 })
	t0, t1 := h.seed.Tenants[0].ID, h.seed.Tenants[1].ID
	var started []string
	for i := range 5 {
		tenant, who := t0, "operator"
		if i == 4 {
			tenant, who = t1, "owner"
		}
		code, out := h.call(t, who, "POST", "/api/v1/tenants/"+tenant.String()+"/operations/drift.generate/start",
			fmt.Sprintf(`{"context":{"baseline":"b%d"}}`, i))
		require.Equal(t, 200, code)
		started = append(started, out["run"].(map[string]any)["id"].(string))
		time.Sleep(2 * time.Millisecond) // distinct queued_at
	}
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		var n int
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_runs WHERE context IS NOT NULL`).Scan(&n))
		return n == 5
	}, 30*time.Second, 20*time.Millisecond)

	list := func(who string, q url.Values) []string {
		t.Helper()
		q.Set("limit", "200")
		code, body := h.call(t, who, "GET", "/api/v1/operations?"+q.Encode(), "")
		require.Equal(t, 200, code)
		ids := []string{}
		for _, r := range body["runs"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		return ids
	}
	require.Equal(t, []string{started[2]}, list("readonly", url.Values{"q": {"baseline:b2"}}))
	require.Equal(t, []string{started[2]}, list("readonly", url.Values{"q": {"baseline:b2"}, "tenant": {t0.String()}}))
	require.Empty(t, list("readonly", url.Values{"q": {"baseline:b2"}, "tenant": {t1.String()}}), "combined with the tenant filter")
	require.Empty(t, list("outsider", url.Values{"q": {"baseline:b2"}}), "another workspace's runs are never found")
	require.Equal(t, []string{started[3]}, list("readonly", url.Values{"q": {"id:" + started[3]}}))
	_, owner := h.call(t, "owner", "GET", "/api/v1/operations/"+started[4], "")
	ownerName := owner["initiator"].(map[string]any)["name"].(string)
	require.Equal(t, []string{started[4]}, list("readonly", url.Values{"q": {`initiator:"` + strings.ToUpper(ownerName) + `"`}}))
	for _, bad := range []string{"hello", "id:xyz", strings.Repeat("a:b ", 60), `initiator:"open`} {
		code, body := h.call(t, "readonly", "GET", "/api/v1/operations?q="+url.QueryEscape(bad), "")
		require.Equal(t, 422, code, bad)
		require.Contains(t, body["error"].(map[string]any)["message"], "q: ", bad)
	}

	readCSV := func(raw string) (header []string, ids []string) {
		t.Helper()
		recs, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
		require.NoError(t, err, raw)
		require.NotEmpty(t, recs, "a header row always")
		for _, r := range recs[1:] {
			ids = append(ids, r[0])
		}
		return recs[0], ids
	}
	for _, q := range []url.Values{{}, {"q": {"baseline:b1"}}, {"tenant": {t0.String()}, "bucket": {"queued"}}} {
		code, raw := h.rawCall(t, "readonly", "GET", "/api/v1/operations.csv?"+q.Encode(), "")
		require.Equal(t, 200, code, raw)
		header, ids := readCSV(raw)
		require.Equal(t, "id", header[0])
		want := list("readonly", q)
		require.NotEmpty(t, want)
		require.Equal(t, want, ids, "the export is the list: %v", q)
	}
	code, raw := h.rawCall(t, "outsider", "GET", "/api/v1/operations.csv?tenant="+t0.String(), "")
	require.Equal(t, 200, code)
	_, ids := readCSV(raw)
	require.Empty(t, ids, "an outsider exports nothing of the tenant, as its list shows nothing")
	code, raw = h.rawCall(t, "readonly", "GET", "/api/v1/operations.csv?q=hello", "")
	require.Equal(t, 422, code)
	require.Contains(t, raw, `"unprocessable"`)

	// The hub: the list's search box and Export CSV link carry the filters.
	b, _ := signedIn(t, h, "readonly")
	resp, body := b.get("/admin/operations?q=baseline%3Ab1")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, `value="baseline:b1"`)
	require.Contains(t, body, `href="/admin/operations.csv?q=baseline%3Ab1"`)
	resp, body = b.get("/admin/operations.csv?q=baseline%3Ab1")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/csv")
	_, ids = readCSV(body)
	require.Equal(t, []string{started[1]}, ids)
	resp, body = b.get("/admin/t/" + t0.String() + "/operations.csv")
	require.Equal(t, 200, resp.StatusCode)
	_, ids = readCSV(body)
	require.Equal(t, list("readonly", url.Values{"tenant": {t0.String()}}), ids)
	resp, body = b.get("/admin/operations?q=id%3Axyz")
	require.Equal(t, 422, resp.StatusCode)
	require.Contains(t, body, "run id prefix")

	// Route × role.
	apiWant := map[string]int{"owner": 200, "operator": 200, "readonly": 200, "compliance": 200, "outsider": 200, "": 401, "bad": 401}
	for who, want := range apiWant {
		code, _ := h.rawCall(t, who, "GET", "/api/v1/operations.csv", "")
		require.Equal(t, want, code, "API export as %q", who)
	}
	hubWant := map[string][2]int{"owner": {200, 200}, "operator": {200, 200}, "readonly": {200, 200}, "compliance": {200, 200},
		"outsider": {200, 404}, "": {302, 302}}
	for who, want := range hubWant {
		b, _ := signedIn(t, h, who)
		resp, _ := b.get("/admin/operations.csv")
		require.Equal(t, want[0], resp.StatusCode, "hub export as %q", who)
		resp, _ = b.get("/admin/t/" + t0.String() + "/operations.csv")
		require.Equal(t, want[1], resp.StatusCode, "tenant export as %q", who)
	}
}

// TestSavedViews saves a run list's URL under a name (only an operations list's path and
// filters are kept), lists it on the operations page of its user only, deletes it; the
// routes need a session and a CSRF token; every signed-in user has views of their own.
func TestSavedViews(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	tenant := h.seed.Tenants[0].ID.String()
	b, token := signedIn(t, h, "readonly")
	resp, _ := b.post("/admin/views", url.Values{"_csrf": {token}, "name": {"Failed drift <b>"},
		"url": {"/admin/t/" + tenant + "/operations?type=drift.generate&bucket=failed&cursor=abc&evil=1&q=baseline%3Ab1"}})
	require.Equal(t, 303, resp.StatusCode)
	saved := "/admin/t/" + tenant + "/operations?bucket=failed&q=baseline%3Ab1&type=drift.generate"
	require.Equal(t, saved, resp.Header.Get("Location"))
	_, body := b.get("/admin/operations")
	require.Contains(t, body, `href="`+strings.ReplaceAll(saved, "&", "&amp;")+`">Failed drift &lt;b&gt;</a>`)
	other, _ := signedIn(t, h, "operator")
	_, body = other.get("/admin/operations")
	require.NotContains(t, body, "Failed drift", "a view is its user's")
	for _, bad := range []url.Values{
		{"name": {"x"}, "url": {"https://evil.test/admin/operations"}},
		{"name": {"x"}, "url": {"/admin/tenants"}},
		{"name": {"x"}, "url": {"//evil.test/admin/operations"}},
		{"name": {""}, "url": {"/admin/operations"}},
		{"name": {strings.Repeat("n", 61)}, "url": {"/admin/operations"}},
	} {
		bad.Set("_csrf", token)
		resp, _ := b.post("/admin/views", bad)
		require.Equal(t, 422, resp.StatusCode, "%v", bad)
	}
	resp, _ = b.post("/admin/views", url.Values{"name": {"x"}, "url": {"/admin/operations"}})
	require.Equal(t, 403, resp.StatusCode, "no CSRF token")
	resp, _ = b.post("/admin/views/delete", url.Values{"_csrf": {token}, "name": {"Failed drift <b>"}})
	require.Equal(t, 303, resp.StatusCode)
	_, body = b.get("/admin/operations")
	require.NotContains(t, body, `">Failed drift &lt;b&gt;</a>`)

	for who, want := range map[string]int{"owner": 303, "operator": 303, "readonly": 303, "compliance": 303, "outsider": 303, "": 303} {
		b, token := signedIn(t, h, who)
		resp, _ := b.post("/admin/views", url.Values{"_csrf": {token}, "name": {"mine"}, "url": {"/admin/operations?range=24h"}})
		require.Equal(t, want, resp.StatusCode, "save a view as %q", who)
		if who == "" {
			require.Equal(t, "/admin/login", resp.Header.Get("Location"), "anonymous: to the login page")
		} else {
			require.Equal(t, "/admin/operations?range=24h", resp.Header.Get("Location"))
		}
		resp, _ = b.post("/admin/views/delete", url.Values{"_csrf": {token}, "name": {"mine"}})
		require.Equal(t, want, resp.StatusCode, "delete a view as %q", who)
	}
}

// TestSearchPastItsTimeoutIs503: a search the database cancels at its statement timeout
// (here: it waits on a lock held by another session) answers 503 with a message saying
// what to do, on the API and the hub, never a 500.
func TestSearchPastItsTimeoutIs503(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	h := serveHub(t, a, pool, s)
	b, _ := signedIn(t, h, "readonly")
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	_, err = tx.Exec(t.Context(), `LOCK TABLE rm_runs_v2 IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	start := time.Now()
	code, body := h.call(t, "readonly", "GET", "/api/v1/operations?q=baseline:x", "")
	require.Equal(t, 503, code)
	require.Equal(t, "unavailable", body["error"].(map[string]any)["code"])
	require.Contains(t, body["error"].(map[string]any)["message"], "The search took too long")
	require.Less(t, time.Since(start), 10*time.Second, "stopped by the search's timeout, not the request's")
	resp, page := b.get("/admin/operations?q=initiator:x")
	require.Equal(t, 503, resp.StatusCode)
	require.Contains(t, page, "The search took too long")
	code, _ = h.rawCall(t, "readonly", "GET", "/api/v1/operations.csv?q=id:abcd", "")
	require.Equal(t, 503, code)
}
