package web_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/projections"
)

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t      *testing.T
	h      *hub
	client *http.Client
}

func newBrowser(t *testing.T, h *hub) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, h: h, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get answers the status, headers and body of a GET.
func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), "GET", b.h.base+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// post submits a form.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), "POST", b.h.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(raw)
}

// csrf is the CSRF token of a page's forms.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF input in %s", body)
	return m[1]
}

// login signs in as a seeded user.
func (b *browser) login(who string) {
	b.t.Helper()
	_, body := b.get("/admin/login")
	resp, _ := b.post("/admin/login", url.Values{"email": {b.h.seed.Users[who].Email}, "password": {b.h.seed.Users[who].Password}, "_csrf": {csrf(b.t, body)}})
	require.Equal(b.t, http.StatusSeeOther, resp.StatusCode)
}

func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "atlas_session" && c.Value != "" {
			return c
		}
	}
	return nil
}

func TestAdminLogin(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))

	anon := newBrowser(t, h)
	resp, _ := anon.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/admin/login", resp.Header.Get("Location"))

	resp, body := anon.get("/admin/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `name="email"`)
	require.Contains(t, body, `name="password"`)
	token := csrf(t, body)

	// No CSRF token: refused before the password is looked at.
	resp, body = anon.post("/admin/login", url.Values{"email": {h.seed.Users["operator"].Email}, "password": {h.seed.Users["operator"].Password}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Nil(t, sessionCookieOf(resp))
	require.Contains(t, body, "<html")

	// Wrong password: the form again, a generic error, no session.
	resp, body = anon.post("/admin/login", url.Values{"email": {h.seed.Users["operator"].Email}, "password": {"wrong"}, "_csrf": {token}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Nil(t, sessionCookieOf(resp))
	require.Contains(t, body, "The email or password is not correct.")

	resp, _ = anon.post("/admin/login", url.Values{"email": {h.seed.Users["operator"].Email}, "password": {h.seed.Users["operator"].Password}, "_csrf": {token}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/admin/operations", resp.Header.Get("Location"))
	c := sessionCookieOf(resp)
	require.NotNil(t, c)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)

	resp, body = anon.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, h.seed.Users["operator"].Email)

	// Logout needs the session's CSRF token too.
	resp, _ = anon.post("/admin/logout", url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = anon.post("/admin/logout", url.Values{"_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = anon.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode)

	// The hub's assets are public and embedded.
	resp, body = anon.get("/admin/static/app.css")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	require.Contains(t, body, "prefers-color-scheme")

	// A forged cookie is no session.
	forged := newBrowser(t, h)
	u, _ := url.Parse(h.base)
	forged.client.Jar.SetCookies(u, []*http.Cookie{{Name: "atlas_session", Value: h.seed.Users["owner"].ID.String() + "|9999999999|00", Path: "/"}})
	resp, _ = forged.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode)
}

func TestAdminOperationsPages(t *testing.T) {
	t.Parallel()
	// A database of its own: the menu shows the operator's newest five notifications, and
	// the package's other tests start runs as the operator on the shared database.
	h := startAuditHub(t)
	tenant := h.seed.Tenants[0].ID.String()
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start", `{"context":{"baseline":"web-test"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)
	// Sealing (and so projecting) waits for older transactions anywhere on the server.
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		var n int
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_runs WHERE run_id = $1`, runID).Scan(&n))
		return n == 1
	}, 30*time.Second, 20*time.Millisecond)

	reader := newBrowser(t, h)
	reader.login("readonly")
	resp, body := reader.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "/admin/operations/"+runID)
	require.Contains(t, body, "Drift generation")
	require.Contains(t, body, "<time datetime=")
	for _, tn := range h.seed.Tenants { // the tenant switcher lists the tenants the user may view
		require.Contains(t, body, `<a href="/admin/t/`+tn.ID.String()+`/operations">`+tn.Name+`</a>`)
	}
	require.Contains(t, body, `id="notifications"`)

	// The operator (the run's initiator) finds it in the notifications menu.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = h.app.Runner.Run(ctx, projections.Notifications{}) }()
	initiator := newBrowser(t, h)
	initiator.login("operator")
	require.Eventually(t, func() bool {
		_, body := initiator.get("/admin/operations")
		return strings.Contains(body, `<a href="/admin/operations/`+runID+`">Drift generation queued</a>`)
	}, 30*time.Second, 50*time.Millisecond, "the queued notification never showed in the menu")

	resp, body = reader.get("/admin/operations?type=drift.generate&bucket=queued&range=24h")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "/admin/operations/"+runID)
	resp, _ = reader.get("/admin/operations?bucket=nope")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	resp, body = reader.get("/admin/t/" + tenant + "/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "/admin/operations/"+runID)

	resp, body = reader.get("/admin/operations/" + runID)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "Drift generation")
	require.Contains(t, body, `id="run-status"`)
	require.Contains(t, body, `data-status="queued"`)
	require.Contains(t, body, "RunQueued")
	require.Contains(t, body, "web-test")
	require.NotContains(t, body, "127.0.0.1", "the initiator's IP is not shown")

	resp, _ = reader.get("/admin/operations/" + uuid.NewString())
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, body = reader.get("/admin/operations/42")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "<html")

	outsider := newBrowser(t, h)
	outsider.login("outsider")
	resp, body = outsider.get("/admin/t/" + tenant + "/operations")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "Not found")
	resp, _ = outsider.get("/admin/operations/" + runID)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, body = outsider.get("/admin/operations")
	for _, tn := range h.seed.Tenants {
		require.NotContains(t, body, tn.ID.String(), "the outsider's switcher lists none of Contoso's tenants")
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, runID)
	require.Contains(t, body, "No operations yet.")
}

func TestAdminStartForm(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	tenant := h.seed.Tenants[1].ID.String()
	page := "/admin/t/" + tenant + "/operations"

	op := newBrowser(t, h)
	op.login("operator")
	_, body := op.get(page)
	require.Contains(t, body, `action="/admin/t/`+tenant+`/operations/start"`)
	resp, _ := op.post(page+"/start", url.Values{"type": {"drift.generate"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	resp, _ = op.post(page+"/start", url.Values{"type": {"drift.generate"}, "_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, page, resp.Header.Get("Location"))

	resp, body = op.get(page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := regexp.MustCompile(`class="flash[^"]*"[\s\S]*?href="/admin/operations/([0-9a-f-]{36})">View run`).FindStringSubmatch(body)
	require.NotNil(t, m, "a flash with a View-run link: %s", body)
	_, body = op.get(page)
	require.NotContains(t, body, "View run", "the flash is one-shot")

	code, detail := h.call(t, "operator", "GET", "/api/v1/operations/"+m[1], "")
	require.Equal(t, 200, code)
	require.Equal(t, "drift.generate", detail["type"])
	require.Equal(t, tenant, detail["tenantId"])

	reader := newBrowser(t, h)
	reader.login("readonly")
	_, body = reader.get(page)
	resp, body = reader.post(page+"/start", url.Values{"type": {"drift.generate"}, "_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "Not allowed")
}

func TestAdminRunStream(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	tenant := h.seed.Tenants[2].ID.String()
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start", `{"context":{"baseline":"stream-test"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)

	b := newBrowser(t, h)
	b.login("readonly")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", h.base+"/admin/operations/"+runID+"/stream", nil)
	require.NoError(t, err)
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/event-stream")
	sc := bufio.NewScanner(resp.Body)
	var sawEvent, sawData bool
	for sc.Scan() {
		line := sc.Text()
		if line == "event: run" {
			sawEvent = true
		}
		if sawEvent && strings.HasPrefix(line, "data: ") {
			require.Contains(t, line, `"status":"queued"`)
			sawData = true
			break
		}
	}
	require.True(t, sawEvent && sawData, "no run event: %v", sc.Err())
	cancel()

	outsider := newBrowser(t, h)
	outsider.login("outsider")
	r, _ := outsider.get("/admin/operations/" + runID + "/stream")
	require.Equal(t, http.StatusNotFound, r.StatusCode)
}
