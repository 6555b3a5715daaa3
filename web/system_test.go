package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/web"
)

// systemCSRFRe finds the hidden CSRF input of a /system form (its name contains "csrf").
var systemCSRFRe = regexp.MustCompile(`<input type="hidden" name="([^"]*csrf[^"]*)" value="([^"]+)"`)

// systemLogin loads /system/login and submits it; it answers the response and the body.
func (b *browser) systemLogin(email, password string) (*http.Response, string) {
	b.t.Helper()
	resp, body := b.get("/system/login")
	require.Equal(b.t, http.StatusOK, resp.StatusCode, body)
	m := systemCSRFRe.FindStringSubmatch(body)
	require.NotNil(b.t, m, "no CSRF input in %s", body)
	return b.post("/system/login", url.Values{"email": {email}, "password": {password}, m[1]: {m[2]}})
}

// platformLogin signs in to /system as a seeded platform user ("platform" or
// "platform_viewer").
func (b *browser) platformLogin(who string) {
	b.t.Helper()
	u := b.h.seed.Platform
	if who == "platform_viewer" {
		u = b.h.seed.PlatformViewer
	}
	resp, body := b.systemLogin(u.Email, u.Password)
	require.Equal(b.t, http.StatusSeeOther, resp.StatusCode, body)
	require.Equal(b.t, "/system/ops", resp.Header.Get("Location"))
}

// cookieOf is the named non-empty cookie a response sets, or nil.
func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	return nil
}

// TestSystemLogin: the form has the /admin/login fields; no CSRF token is 403, a wrong
// password 401 with no session, the right one a cookie of its own name on Path=/system
// (HttpOnly, SameSite=Strict) and the platform home with the user's name and
// capabilities; every attempt is audited with actor, address, user agent and outcome.
func TestSystemLogin(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	b := browserFrom(t, h, "127.0.11.1")
	p := h.seed.Platform

	resp, _ := b.get("/system/ops")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/system/login", resp.Header.Get("Location"))
	resp, _ = b.get("/system")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/system/login", resp.Header.Get("Location"))

	resp, body := b.get("/system/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `name="email"`)
	require.Contains(t, body, `name="password"`)
	require.Regexp(t, systemCSRFRe, body)
	require.Contains(t, body, `action="/system/login"`)
	nonce := cookieOf(resp, "atlas_system_login")
	require.NotNil(t, nonce)
	require.Equal(t, "/system", nonce.Path)

	resp, body = b.post("/system/login", url.Values{"email": {p.Email}, "password": {p.Password}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "<html")
	require.Nil(t, cookieOf(resp, "atlas_system_session"))

	resp, body = b.systemLogin(p.Email, "not the password")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, body, "The email or password is not correct.")
	require.Nil(t, cookieOf(resp, "atlas_system_session"))
	// A workspace user's credentials are no platform user's.
	resp, _ = b.systemLogin(h.seed.Users["owner"].Email, h.seed.Users["owner"].Password)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, _ = b.systemLogin(p.Email, p.Password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/system/ops", resp.Header.Get("Location"))
	c := cookieOf(resp, "atlas_system_session")
	require.NotNil(t, c)
	require.Equal(t, "/system", c.Path)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Nil(t, cookieOf(resp, "atlas_session"), "no hub session")

	resp, body = b.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "Pat Platform")
	for _, cap := range tenancy.PlatformCapabilities() {
		require.Contains(t, body, string(cap))
	}
	require.Contains(t, body, `action="/system/logout"`)
	resp, _ = b.get("/system/login")
	require.Equal(t, http.StatusFound, resp.StatusCode, "signed in: the form sends you home")
	require.Equal(t, "/system/ops", resp.Header.Get("Location"))

	// Every link of the page leads to a page the panel serves.
	for _, m := range regexp.MustCompile(`href="(/[^"]*)"`).FindAllStringSubmatch(body, -1) {
		resp, _ := b.get(m[1])
		require.Equal(t, http.StatusOK, resp.StatusCode, "link %s", m[1])
	}

	var actor string
	rows := auditEntries(t, h, tenancy.ActionPlatformLogin)
	var mine []auditRow
	for _, r := range rows {
		if r.IP == "127.0.11.1" {
			mine = append(mine, r)
		}
	}
	pu, err := h.app.Tenancy.PlatformUserByEmail(t.Context(), p.Email)
	require.NoError(t, err)
	actor = tenancy.PlatformActor(pu.ID)
	ua := "Go-http-client/1.1"
	require.Equal(t, []auditRow{
		{tenancy.ActionPlatformLogin, "failed", actor, "email:" + p.Email, tenancy.LoginBadPassword, "127.0.11.1", ua},
		{tenancy.ActionPlatformLogin, "failed", "system:platform-login", "email:" + h.seed.Users["owner"].Email, tenancy.LoginUnknownUser, "127.0.11.1", ua},
		{tenancy.ActionPlatformLogin, "succeeded", actor, "email:" + p.Email, "", "127.0.11.1", ua},
	}, mine)
}

// TestSystemCookieSeparation: the hub's session is no /system session and the /system
// session no hub session, whether sent under their own names or one's value under the
// other's name (they are signed under different keys).
func TestSystemCookieSeparation(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	base, err := url.Parse(h.base)
	require.NoError(t, err)

	// A hub owner, signed in to /admin, is sent to the /system login.
	owner := newBrowser(t, h)
	_, body := owner.get("/admin/login")
	resp, _ := owner.post("/admin/login", url.Values{"email": {h.seed.Users["owner"].Email},
		"password": {h.seed.Users["owner"].Password}, "_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	hubCookie := sessionCookieOf(resp)
	require.NotNil(t, hubCookie)
	resp, _ = owner.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = owner.get("/system/ops")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/system/login", resp.Header.Get("Location"))

	// A platform user, signed in to /system, is sent to the hub's login.
	plat := newBrowser(t, h)
	_, body = plat.get("/system/login")
	m := systemCSRFRe.FindStringSubmatch(body)
	require.NotNil(t, m)
	resp, _ = plat.post("/system/login", url.Values{"email": {h.seed.Platform.Email}, "password": {h.seed.Platform.Password}, m[1]: {m[2]}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	sysCookie := cookieOf(resp, "atlas_system_session")
	require.NotNil(t, sysCookie)
	resp, _ = plat.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = plat.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/admin/login", resp.Header.Get("Location"))

	// The hub's cookie value under the /system name: no session.
	swapped := newBrowser(t, h)
	swapped.client.Jar.SetCookies(base, []*http.Cookie{{Name: "atlas_system_session", Value: hubCookie.Value, Path: "/"}})
	resp, _ = swapped.get("/system/ops")
	require.Equal(t, http.StatusFound, resp.StatusCode, "a hub session cookie is never valid on /system")
	require.Equal(t, "/system/login", resp.Header.Get("Location"))
	// The /system cookie value under the hub's name: no session.
	swapped = newBrowser(t, h)
	swapped.client.Jar.SetCookies(base, []*http.Cookie{{Name: "atlas_session", Value: sysCookie.Value, Path: "/"}})
	resp, _ = swapped.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode, "a /system session cookie is never valid on /admin")
	require.Equal(t, "/admin/login", resp.Header.Get("Location"))
	// Both cookies in one browser: each panel takes its own.
	both := newBrowser(t, h)
	both.client.Jar.SetCookies(base, []*http.Cookie{{Name: "atlas_session", Value: hubCookie.Value, Path: "/"},
		{Name: "atlas_system_session", Value: sysCookie.Value, Path: "/system"}})
	resp, body = both.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "Pat Platform")
	resp, body = both.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, h.seed.Users["owner"].Email)
}

// TestSystemCapabilities: platform.ops.view opens /system/ops; a platform user without it
// gets the 403 error page (not a 500), and the viewer's page names only its capability.
func TestSystemCapabilities(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	viewer := newBrowser(t, h)
	viewer.platformLogin("platform_viewer")
	resp, body := viewer.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, string(tenancy.PlatformOpsView))
	require.NotContains(t, body, string(tenancy.PlatformRunbooksRun))

	email := "no-ops-" + uuid.NewString() + "@example.com"
	_, err := h.app.Tenancy.CreatePlatformUser(t.Context(), "system:test", tenancy.NewPlatformUser{Email: email,
		Name: "No Ops", Password: "a platform passphrase", Capabilities: []tenancy.PlatformCapability{tenancy.PlatformRunbooksView}})
	require.NoError(t, err)
	b := newBrowser(t, h)
	resp, _ = b.systemLogin(email, "a platform passphrase")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body = b.get("/system/ops")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Contains(t, body, "<html")
	require.Contains(t, body, "Your platform capabilities do not allow this.")
	require.Contains(t, body, `action="/system/logout"`, "the panel's layout, signed in")
	resp, body = b.get("/system/no-such-page")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "<html")

	// Disabling the user (`atlas platform-user disable`) ends its session at once.
	_, err = h.app.Tenancy.DisablePlatformUser(t.Context(), "system:test", email)
	require.NoError(t, err)
	resp, _ = b.get("/system/ops")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/system/login", resp.Header.Get("Location"))
	resp, _ = b.systemLogin(email, "a platform passphrase")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestSystemLoginRateLimit: ten failed sign-ins for one address and email, and the
// eleventh is 429 with Retry-After, bcrypt not run, and audited; another email from that
// address and that email from another address sign in.
func TestSystemLoginRateLimit(t *testing.T) {
	t.Parallel()
	h, probe := startLoginHub(t, tenancy.Options{}, 0)
	p := h.seed.Platform
	attacker := browserFrom(t, h, "127.0.12.1")
	for i := range 10 {
		resp, body := attacker.systemLogin(p.Email, fmt.Sprint("guess ", i))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	}
	require.EqualValues(t, 10, probe.calls.Load())
	resp, body := attacker.systemLogin(p.Email, p.Password)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds: %q", resp.Header.Get("Retry-After"))
	require.True(t, secs >= 1 && secs <= 60, "Retry-After %d", secs)
	require.Contains(t, body, "Too many failed sign-ins. Try again in "+strconv.Itoa(secs)+" seconds.")
	require.Nil(t, cookieOf(resp, "atlas_system_session"))
	require.EqualValues(t, 10, probe.calls.Load(), "bcrypt never runs for a limited request")
	resp, metrics := attacker.get("/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Regexp(t, `atlas_platform_login_attempts_total\{outcome="rate_limited"\} [1-9]`, metrics)

	var limited []auditRow
	for _, r := range auditEntries(t, h, tenancy.ActionPlatformLogin) {
		if r.Reason == tenancy.LoginRateLimited {
			limited = append(limited, r)
		}
	}
	require.Equal(t, []auditRow{{tenancy.ActionPlatformLogin, "failed", "system:platform-login", "email:" + p.Email,
		tenancy.LoginRateLimited, "127.0.12.1", "Go-http-client/1.1"}}, limited)

	resp, _ = attacker.systemLogin(h.seed.PlatformViewer.Email, h.seed.PlatformViewer.Password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "another email from the address")
	resp, _ = browserFrom(t, h, "127.0.12.2").systemLogin(p.Email, p.Password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the email from another address")
	// The hub's sign-in counts apart.
	resp, _ = attacker.tryLogin(h.seed.Users["owner"].Email, h.seed.Users["owner"].Password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// TestSystemLogoutEndsEverySession: sign-out needs the session's CSRF token and ends
// every /system session of the platform user (not the hub's), audited.
func TestSystemLogoutEndsEverySession(t *testing.T) {
	t.Parallel()
	h, _ := startLoginHub(t, tenancy.Options{}, 0)
	laptop, phone := browserFrom(t, h, "127.0.13.1"), browserFrom(t, h, "127.0.13.2")
	laptop.platformLogin("platform")
	laptop.login("owner")
	phone.platformLogin("platform")
	resp, body := laptop.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := systemCSRFRe.FindStringSubmatch(body)
	require.NotNil(t, m)

	resp, _ = laptop.post("/system/logout", url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	_, adminPage := laptop.get("/admin/operations")
	resp, _ = laptop.post("/system/logout", url.Values{m[1]: {csrf(t, adminPage)}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the hub's CSRF token is not /system's")
	resp, _ = phone.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = laptop.post("/system/logout", url.Values{m[1]: {m[2]}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/system/login", resp.Header.Get("Location"))
	for _, b := range []*browser{laptop, phone} {
		resp, _ = b.get("/system/ops")
		require.Equal(t, http.StatusFound, resp.StatusCode, "every /system session of the user ended")
		require.Equal(t, "/system/login", resp.Header.Get("Location"))
	}
	resp, _ = laptop.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the hub session is another matter")

	pu, err := h.app.Tenancy.PlatformUserByEmail(t.Context(), h.seed.Platform.Email)
	require.NoError(t, err)
	actor := tenancy.PlatformActor(pu.ID)
	require.Equal(t, []auditRow{{tenancy.ActionPlatformLogout, "succeeded", actor, actor, "", "127.0.13.1", "Go-http-client/1.1"}},
		auditEntries(t, h, tenancy.ActionPlatformLogout))
	phone.platformLogin("platform")
	resp, _ = phone.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode, "a new sign-in works")
}

// TestSystemBehindTrustedProxy: behind a configured TLS proxy the /system cookie is
// Secure and the audit entry names the client the proxy saw; over plain http it is not
// Secure.
func TestSystemBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	login := func(h *hub, xff, proto string) *http.Cookie {
		t.Helper()
		b := newBrowser(t, h)
		_, body := b.get("/system/login")
		m := systemCSRFRe.FindStringSubmatch(body)
		require.NotNil(t, m)
		form := url.Values{"email": {h.seed.PlatformViewer.Email}, "password": {h.seed.PlatformViewer.Password}, m[1]: {m[2]}}
		req, err := http.NewRequestWithContext(t.Context(), "POST", h.base+"/system/login", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", xff)
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, _ := b.do(req)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		c := cookieOf(resp, "atlas_system_session")
		require.NotNil(t, c)
		return c
	}
	direct, _, _ := edgeHub(t, nil)
	require.False(t, login(direct, "203.0.113.31", "https").Secure, "no Secure flag over plain http")
	proxied, _, _ := edgeHub(t, func(d *web.Deps) { d.TrustedProxies = []string{"127.0.0.1"} })
	require.True(t, login(proxied, "203.0.113.32", "https").Secure, "Secure behind a trusted TLS proxy")
	var n int
	require.NoError(t, proxied.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 AND data->>'ip' = '203.0.113.32' AND data->>'outcome' = 'succeeded'`,
		tenancy.ActionPlatformLogin).Scan(&n))
	require.Equal(t, 1, n, "the audit entry names the client the proxy saw")
}

// TestSystemSecurityHeaders: /system answers carry the hub's security headers, and its
// pages no inline script or style (the CSP has no 'unsafe-inline').
func TestSystemSecurityHeaders(t *testing.T) {
	t.Parallel()
	h, _, _ := edgeHub(t, nil)
	anon := newBrowser(t, h)
	resp, _ := anon.get("/system/ops")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	requireSecurityHeaders(t, "system redirect", resp, "no-store")
	resp, body := anon.get("/system/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireSecurityHeaders(t, "system login", resp, "no-store")
	require.NotContains(t, body, "<script")
	require.NotContains(t, body, "<style")
	resp, _ = anon.post("/system/login", url.Values{"email": {"x"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	requireSecurityHeaders(t, "system 403 page", resp, "no-store")
	b := newBrowser(t, h)
	b.platformLogin("platform")
	resp, body = b.get("/system/ops")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireSecurityHeaders(t, "system home", resp, "no-store")
	require.NotContains(t, body, "<script")
	require.NotContains(t, body, " style=\"")
	resp, _ = b.get("/system/nope")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	requireSecurityHeaders(t, "system 404 page", resp, "no-store")
}
