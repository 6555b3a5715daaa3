package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

// anyPath fills a route pattern with the first demo tenant and fresh ids: the checks
// that use it (CSRF, body size) answer before any handler looks the ids up.
func anyPath(h *hub, pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		switch name, ok := strings.CutPrefix(p, ":"); {
		case !ok:
		case name == "tenant":
			parts[i] = h.seed.Tenants[0].ID.String()
		case name == "workspace":
			parts[i] = h.seed.Workspace.String()
		case name == "type" || name == "operation" || name == "runbook":
			parts[i] = "drift.generate"
		default:
			parts[i] = uuid.NewString()
		}
	}
	return strings.Join(parts, "/")
}

// bodyRoutes are the routes that take a body (POST, PUT, PATCH).
func bodyRoutes(t *testing.T, h *hub) []route {
	var out []route
	for _, r := range appRoutes(t, h.srv) {
		if r.method == http.MethodPost || r.method == http.MethodPut || r.method == http.MethodPatch {
			out = append(out, r)
		}
	}
	require.Greater(t, len(out), 30)
	return out
}

// stateOf is a fingerprint of everything a form could change: the event log, the
// runs, saved views and read marks.
func stateOf(t *testing.T, h *hub) string {
	var events, runs, views, reads int64
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM es_events), (SELECT count(*) FROM ops_runs),
		(SELECT count(*) FROM saved_views), (SELECT count(*) FROM inbox_reads)`).Scan(&events, &runs, &views, &reads))
	return fmt.Sprintf("events=%d runs=%d views=%d reads=%d", events, runs, views, reads)
}

// TestCSRFRefusedOnEveryForm posts to every form of /admin and /system as a signed-in
// user with no CSRF token, then with the token of another session (another user's; on
// /system the other platform user's): every one is a 403 and nothing changes (events,
// runs, saved views, read marks). The sign-in forms refuse a missing nonce and another
// browser's token alike. The same post with the session's own token does change things,
// so the fingerprint can tell.
func TestCSRFRefusedOnEveryForm(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	owner, ownerToken := signedIn(t, h, "owner")
	_, otherToken := signedIn(t, h, "readonly")
	platform := newBrowser(t, h)
	platform.platformLogin("platform")
	viewer := newBrowser(t, h)
	viewer.platformLogin("platform_viewer")
	_, body := viewer.get("/system/ops/runs")
	viewerToken := systemCSRF(t, body)
	_, body = platform.get("/system/ops/runs")
	require.NotEqual(t, viewerToken, systemCSRF(t, body), "the tokens are per session")
	require.NotEqual(t, ownerToken, otherToken)

	before := stateOf(t, h)
	forms := 0
	for _, r := range bodyRoutes(t, h) {
		var b *browser
		foreign := otherToken
		switch {
		case r.path == "/admin/login" || r.path == "/system/login" || strings.HasPrefix(r.path, "/api/"):
			continue // sign-in below; the API takes a bearer token, no cookie
		case strings.HasPrefix(r.path, "/system/"):
			b, foreign = platform, viewerToken
		default:
			b = owner
		}
		path := anyPath(h, r.path)
		for name, token := range map[string]string{"no token": "", "another session's token": foreign} {
			form := url.Values{"name": {"csrf"}, "url": {"/admin/operations"}, "scope": {"all:" + h.seed.Workspace.String()}}
			if token != "" {
				form.Set("_csrf", token)
			}
			req, err := http.NewRequestWithContext(t.Context(), r.method, h.base+path, strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, body := b.do(req)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s with %s: %.300s", r.method, path, name, msgOf(body))
			require.Contains(t, body, "did not come from this site", "%s %s", r.method, path)
			forms++
		}
	}
	require.Equal(t, before, stateOf(t, h), "a refused form changed nothing")
	t.Logf("%d refused form posts", forms)

	// The sign-in forms: no nonce cookie, or another browser's token: 403, no session.
	for _, panel := range []string{"/admin", "/system"} {
		other := newBrowser(t, h)
		_, page := other.get(panel + "/login")
		stolen := csrf(t, page)
		for name, b := range map[string]*browser{"no token": newBrowser(t, h), "another browser's token": newBrowser(t, h)} {
			form := url.Values{"email": {h.seed.Users["owner"].Email}, "password": {h.seed.Users["owner"].Password}}
			if panel == "/system" {
				form = url.Values{"email": {h.seed.Platform.Email}, "password": {h.seed.Platform.Password}}
			}
			if name != "no token" {
				b.get(panel + "/login") // its own nonce cookie, but the other's token
				form.Set("_csrf", stolen)
			}
			resp, _ := b.post(panel+"/login", form)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s login with %s", panel, name)
			require.Nil(t, sessionCookieOf(resp))
			require.Nil(t, cookieOf(resp, "atlas_system_session"))
		}
	}

	// The fingerprint sees a form that went through.
	resp, _ := owner.post("/admin/views", url.Values{"_csrf": {ownerToken}, "name": {"csrf"}, "url": {"/admin/operations"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.NotEqual(t, before, stateOf(t, h))
}

// TestSignInStartsANewSession: session fixation. A cookie planted before sign-in
// (another user's live session, a made-up value, the sign-in nonce itself) is replaced
// at sign-in by a new value; the pre-sign-in cookies then carry no authority, the nonce
// is gone, and after sign-out the session's value is refused too. The same on /system.
func TestSignInStartsANewSession(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	base, err := url.Parse(h.base)
	require.NoError(t, err)
	attacker := newBrowser(t, h)
	attacker.login("readonly")
	var planted string
	for _, c := range attacker.client.Jar.Cookies(base) {
		if c.Name == "atlas_session" {
			planted = c.Value
		}
	}
	require.NotEmpty(t, planted)

	cookie := func(b *browser, path, name string) string {
		u := *base
		u.Path = path
		for _, c := range b.client.Jar.Cookies(&u) {
			if c.Name == name {
				return c.Value
			}
		}
		return ""
	}
	// as answers the status and Location of GET path with only the cookie name=value.
	as := func(path, name, value string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", h.base+path, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: name, Value: value})
		resp, err := newBrowser(t, h).client.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}

	for _, planting := range []string{planted, "made-up-session-value", ""} {
		victim := newBrowser(t, h)
		_, page := victim.get("/admin/login")
		nonce := cookie(victim, "/admin", "atlas_login")
		require.NotEmpty(t, nonce)
		if planting == "" {
			planting = nonce // the nonce itself as a session
		}
		victim.client.Jar.SetCookies(base, []*http.Cookie{{Name: "atlas_session", Value: planting, Path: "/"}})
		resp, _ := victim.post("/admin/login", url.Values{"email": {h.seed.Users["owner"].Email}, "password": {h.seed.Users["owner"].Password}, "_csrf": {csrf(t, page)}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		after := cookie(victim, "/admin", "atlas_session")
		require.NotEmpty(t, after)
		require.NotEqual(t, planting, after, "sign-in sets a new session value")
		require.Empty(t, cookie(victim, "/admin", "atlas_login"), "the sign-in nonce is cleared")
		resp, body := victim.get("/admin/audit")
		require.Equal(t, http.StatusOK, resp.StatusCode, "the owner's session: %.200s", msgOf(body))
		if planting != planted {
			code, loc := as("/admin/operations", "atlas_session", planting)
			require.Equal(t, http.StatusFound, code, "a pre-sign-in value carries no session")
			require.Equal(t, "/admin/login", loc)
		}
		code, _ := as("/admin/operations", "atlas_session", nonce)
		require.Equal(t, http.StatusFound, code, "the nonce carries no session")
	}
	// The attacker's own session stayed the attacker's (readonly: no audit page).
	code, _ := as("/admin/audit", "atlas_session", planted)
	require.Equal(t, http.StatusForbidden, code)

	// Sign-out ends the session: its value is refused afterwards.
	victim, token := signedIn(t, h, "compliance")
	value := cookie(victim, "/admin", "atlas_session")
	code, _ = as("/admin/audit", "atlas_session", value)
	require.Equal(t, http.StatusOK, code)
	resp, _ := victim.post("/admin/logout", url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	code, loc := as("/admin/audit", "atlas_session", value)
	require.Equal(t, http.StatusFound, code, "a signed-out session's value is refused")
	require.Equal(t, "/admin/login", loc)

	// /system: a planted value is replaced, the nonce carries nothing.
	sys := newBrowser(t, h)
	_, page := sys.get("/system/login")
	nonce := cookie(sys, "/system/", "atlas_system_login")
	require.NotEmpty(t, nonce, "the /system sign-in nonce")
	sysURL := *base
	sysURL.Path = "/system"
	sys.client.Jar.SetCookies(&sysURL, []*http.Cookie{{Name: "atlas_system_session", Value: nonce, Path: "/system"}})
	resp, _ = sys.post("/system/login", url.Values{"email": {h.seed.Platform.Email}, "password": {h.seed.Platform.Password}, "_csrf": {systemCSRF(t, page)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	after := cookie(sys, "/system/", "atlas_system_session")
	require.NotEmpty(t, after)
	require.NotEqual(t, nonce, after)
	code, loc = as("/system/ops", "atlas_system_session", nonce)
	require.Equal(t, http.StatusFound, code)
	require.Equal(t, "/system/login", loc)
	code, _ = as("/system/ops", "atlas_system_session", after)
	require.Equal(t, http.StatusOK, code)
}

// oversize posts n bytes (more than web.MaxRequestBody) to path over a connection of
// its own, with a Content-Length or chunked, and answers the status and body. The body
// is written beside the reading of the answer (the server answers, and closes, before
// it has all of it; a write error then is expected).
func oversize(t *testing.T, h *hub, method, path, token string, n int64, chunked bool) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(h.base, "http://"), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	head := method + " " + path + " HTTP/1.1\r\nHost: atlas\r\nContent-Type: application/json\r\nConnection: close\r\n"
	if strings.HasPrefix(path, "/api/") {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += "Content-Length: " + strconv.FormatInt(n, 10) + "\r\n\r\n"
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		chunk := make([]byte, 64<<10)
		for sent := int64(0); sent < n; sent += int64(len(chunk)) {
			var err error
			if chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				_, err = conn.Write(chunk[:min(int64(len(chunk)), n-sent)])
			}
			if err != nil {
				return // the server answered and closed
			}
		}
		if chunked {
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "%s %s", method, path)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	_ = conn.Close()
	<-written
	return resp.StatusCode, string(raw)
}

// TestOversizeBodiesAre413 posts a body over web.MaxRequestBody to every route that
// takes one: 413 (JSON {"error":{"code":"too_large"}} on /api), and a body at the limit
// is still read. Then hundreds of 8 MiB bodies, sized and chunked, leave the heap
// where it was (within 16 MiB): the server never holds them. Not parallel: the heap
// is the process's.
func TestOversizeBodiesAre413(t *testing.T) {
	h := startHub(t, pgtest.DB(t)) // nothing reaches a handler but one 422: the package database
	token := h.seed.Users["owner"].Token
	for _, r := range bodyRoutes(t, h) {
		path := anyPath(h, r.path)
		for _, chunked := range []bool{false, true} {
			code, body := oversize(t, h, r.method, path, token, web.MaxRequestBody+1, chunked)
			require.Equal(t, http.StatusRequestEntityTooLarge, code, "%s %s (chunked %v): %.200s", r.method, path, chunked, body)
			if strings.HasPrefix(path, "/api/") {
				var e struct {
					Error struct{ Code, Message string }
				}
				require.NoError(t, json.Unmarshal([]byte(body), &e), "%s: %s", path, body)
				require.Equal(t, "too_large", e.Error.Code)
			}
		}
	}
	// At the limit the body is read (and refused for what it is, not its size).
	code, _ := oversize(t, h, "POST", "/api/v1/alert-rules", token, web.MaxRequestBody, false)
	require.Equal(t, http.StatusUnprocessableEntity, code)

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	path := "/api/v1/tenants/" + h.seed.Tenants[0].ID.String() + "/operations/drift.generate/start"
	for range 20 { // warm the pools
		oversize(t, h, "POST", path, token, 8<<20, false)
	}
	before := heap()
	for i := range 300 {
		code, _ := oversize(t, h, "POST", path, token, 8<<20, i%3 == 0)
		require.Equal(t, http.StatusRequestEntityTooLarge, code)
	}
	after := heap()
	t.Logf("heap %d KiB before, %d KiB after 300 bodies of 8 MiB offered (a third chunked)", before>>10, after>>10)
	require.Less(t, int64(after)-int64(before), int64(16<<20), "the heap grew with oversize bodies")
	code, _ = h.call(t, "owner", "GET", "/api/v1/operations?limit=1", "")
	require.Equal(t, http.StatusOK, code, "still serving")
}

// sqlMetacharacters are the characters SQL gives meaning: quotes, the statement end,
// comments, LIKE's wildcards and escape, NUL, and the classic injection.
var sqlMetacharacters = []string{"'", `"`, ";", "--", "%", "_", `\`, "/*", "\x00", "' OR '1'='1"}

// TestSQLMetacharactersAnsweredNormally gives every filter and search parameter of every
// list each SQL metacharacter: the answer is a normal one (200, or a 4xx saying the
// value is not accepted), never a 5xx, and the results are right: a directory search
// for "100%" finds "Sales 100% Team" but not "Sales 1000 Team", "_" only names with an
// underscore, a backslash and quotes only themselves; a run search and an audit filter
// with % match nothing instead of everything.
func TestSQLMetacharactersAnsweredNormally(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{Seed: 5, Groups: 3, RoleDefinitions: 2, Policies: 2}})
	names := []string{"Sales 100% Team", "Sales 1000 Team", "a_b group", "axb group", `back\slash group`, "backslash group",
		"quote ' group", `dq " group`, "semi; group", "dash -- group"}
	for i, n := range names {
		e.Sim.SetObject(e.EntraTenant, "groups", map[string]any{"id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), "displayName": n})
	}
	run := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)

	ten := e.App.Tenancy
	owner, err := ten.RegisterUser(e.Ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, ten.GrantMembership(e.Ctx, "system:test", tenancy.Membership{UserID: owner.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleOwner}))
	token, _, err := ten.IssueToken(e.Ctx, "system:test", owner.ID, "sql")
	require.NoError(t, err)
	seed := monolith.DemoSeed{Workspace: e.Workspace, Tenants: []monolith.DemoTenant{{ID: e.Tenant}},
		Users: map[string]monolith.DemoLogin{"owner": {ID: owner.ID, Email: owner.Email, Password: "correct horse battery staple", Token: token}}}
	h := serveHub(t, e.App, e.Pool, seed)
	b, _ := signedIn(t, h, "owner")
	// The lists read the read models: project the sync run and the audit log.
	require.Eventually(t, func() bool {
		_, err := e.App.Store.Seal(e.Ctx)
		require.NoError(t, err)
		for _, p := range []projections.Projection{projections.HubRuns{}, projections.AuditLog{}} {
			_, err := e.App.Runner.CatchUp(e.Ctx, p)
			require.NoError(t, err)
		}
		var runs, entries int
		require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT (SELECT count(*) FROM rm_runs WHERE tenant_id = $1), (SELECT count(*) FROM rm_audit_log)`, e.Tenant).Scan(&runs, &entries))
		return runs > 0 && entries > 0
	}, 30*time.Second, 20*time.Millisecond, "the read models never caught up")

	// Every GET list route, every filter name the app reads, every metacharacter; four
	// at a time.
	type probe struct{ path, name, value string }
	var probes []probe
	for _, r := range appRoutes(t, h.srv) {
		if r.method != http.MethodGet || strings.HasSuffix(r.path, "/stream") || strings.HasSuffix(r.path, "/login") ||
			slices.Contains([]string{"/healthz", "/readyz", "/metrics", "/system/"}, r.path) {
			continue
		}
		if rest := strings.ReplaceAll(strings.ReplaceAll(r.path, ":tenant", ""), ":workspace", ""); strings.Contains(rest, ":") {
			continue // an object's page: no filters
		}
		path := strings.ReplaceAll(r.path, ":tenant", e.Tenant.String())
		path = strings.ReplaceAll(path, ":workspace", e.Workspace.String())
		for _, name := range hostileQueryNames {
			if name == "page" || name == "limit" {
				continue // numbers: TestHostileParametersNeverFail
			}
			for _, v := range sqlMetacharacters {
				probes = append(probes, probe{path, name, v})
			}
		}
	}
	work := make(chan probe)
	type answer struct {
		probe
		code int
		body string
		err  error
	}
	answers := make(chan answer)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				a := answer{probe: p}
				req, err := http.NewRequestWithContext(t.Context(), "GET", h.base+p.path+"?"+url.Values{p.name: {p.value}}.Encode(), nil)
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+token)
					var resp *http.Response
					if resp, err = b.client.Do(req); err == nil {
						raw, _ := io.ReadAll(resp.Body)
						_ = resp.Body.Close()
						a.code, a.body = resp.StatusCode, string(raw)
					}
				}
				a.err = err
				answers <- a
			}
		}()
	}
	go func() {
		for _, p := range probes {
			work <- p
		}
		close(work)
		wg.Wait()
		close(answers)
	}()
	requests := 0
	for a := range answers {
		requests++
		if assert.NoError(t, a.err) {
			assert.Contains(t, []int{200, 302, 400, 404, 422}, a.code, "%s?%s=%q: %.300s", a.path, a.name, a.value, msgOf(a.body))
			assert.NotContains(t, a.body, "SQLSTATE")
		}
	}
	require.False(t, t.Failed())
	t.Logf("%d requests", requests)

	// The directory search matches the characters themselves.
	groups := "/admin/t/" + e.Tenant.String() + "/directory/groups?q="
	for q, want := range map[string][2]string{
		"100%":  {"Sales 100% Team", "Sales 1000 Team"},
		"%":     {"Sales 100% Team", "a_b group"},
		"a_b":   {"a_b group", "axb group"},
		"_":     {"a_b group", "axb group"},
		`k\s`:   {`back\slash group`, "backslash group"},
		"e ' g": {"quote &#39; group", "dq &#34; group"},
		`q " g`: {"dq &#34; group", "quote &#39; group"},
		"; g":   {"semi; group", "dash -- group"},
		"-- g":  {"dash -- group", "semi; group"},
	} {
		resp, body := b.get(groups + url.QueryEscape(q))
		require.Equal(t, http.StatusOK, resp.StatusCode, q)
		require.Contains(t, body, want[0], "q=%q finds its own", q)
		require.NotContains(t, body, want[1], "q=%q is no pattern", q)
	}

	// A run search and an audit filter with a wildcard match nothing, though runs and
	// audit entries exist.
	code, all := h.call(t, "owner", "GET", "/api/v1/operations", "")
	require.Equal(t, 200, code)
	require.NotEmpty(t, all["runs"])
	for _, q := range []string{`initiator:%`, `initiator:"%"`, `initiator:_`, `policyType:%`} {
		code, out := h.call(t, "owner", "GET", "/api/v1/operations?q="+url.QueryEscape(q), "")
		require.Equal(t, 200, code, "%s: %v", q, out)
		require.Empty(t, out["runs"], q)
	}
	code, audit := h.call(t, "owner", "GET", "/api/v1/audit", "")
	require.Equal(t, 200, code, audit)
	require.NotEmpty(t, audit["events"])
	for _, f := range []string{"actor=%25", "action=%25", "actor=_", "outcome=%25"} {
		code, out := h.call(t, "owner", "GET", "/api/v1/audit?"+f, "")
		require.Contains(t, []int{200, 422}, code, f)
		require.Empty(t, out["events"], f)
	}
}
