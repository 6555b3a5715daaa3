package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// bcryptProbe counts the password checks the server runs and the most at once.
type bcryptProbe struct {
	calls, running, peak atomic.Int64
	delay                time.Duration
}

func (p *bcryptProbe) hook(delta int) {
	if delta < 0 {
		p.running.Add(-1)
		return
	}
	p.calls.Add(1)
	n := p.running.Add(1)
	for old := p.peak.Load(); n > old && !p.peak.CompareAndSwap(old, n); old = p.peak.Load() {
	}
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
}

// startLoginHub serves a freshly seeded system on a database of its own: sign-in
// throttling counts every failure on a database, so these tests keep theirs apart.
func startLoginHub(t *testing.T, opts tenancy.Options, delay time.Duration) (*hub, *bcryptProbe) {
	t.Helper()
	pool := pgtest.Fresh(t)
	probe := &bcryptProbe{delay: delay}
	opts.BcryptHook = probe.hook
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost, Tenancy: opts})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	probe.calls.Store(0)
	probe.peak.Store(0)
	return serveHub(t, a, pool, s), probe
}

// browserFrom is a browser whose connections leave from the given loopback address
// (127.0.0.0/8 is all local on Linux), so the server sees distinct client IPs.
func browserFrom(t *testing.T, h *hub, ip string) *browser {
	b := newBrowser(t, h)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	b.client.Transport = &http.Transport{DialContext: dialer.DialContext}
	return b
}

// tryLogin loads the form and submits it; it answers the response and the body.
func (b *browser) tryLogin(email, password string) (*http.Response, string) {
	b.t.Helper()
	_, body := b.get("/admin/login")
	return b.post("/admin/login", url.Values{"email": {email}, "password": {password}, "_csrf": {csrf(b.t, body)}})
}

// requireLimited checks a 429 sign-in answer: Retry-After in whole seconds within the
// window, the form again, no session.
func requireLimited(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds: %q", resp.Header.Get("Retry-After"))
	require.True(t, secs >= 1 && secs <= 60, "Retry-After %d", secs)
	require.Contains(t, body, "Too many failed sign-ins. Try again in "+strconv.Itoa(secs)+" seconds.")
	require.Contains(t, body, `name="password"`)
	require.Nil(t, sessionCookieOf(resp))
}

// TestLoginRateLimitPerAddress: ten failed sign-ins from one address, for any accounts,
// and the eleventh from it is 429 with Retry-After without bcrypt running, for a known
// and an unknown account alike; another address is not affected.
func TestLoginRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	h, probe := startLoginHub(t, tenancy.Options{}, 0)
	attacker := browserFrom(t, h, "127.0.0.21")
	for i := range 10 {
		resp, body := attacker.tryLogin(fmt.Sprintf("guess-%d@example.com", i), "not the password")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	}
	require.EqualValues(t, 10, probe.calls.Load())
	for _, email := range []string{h.seed.Users["operator"].Email, "guess-99@example.com"} {
		resp, body := attacker.tryLogin(email, h.seed.Users["operator"].Password)
		requireLimited(t, resp, body)
	}
	require.EqualValues(t, 10, probe.calls.Load(), "bcrypt never runs for a limited request")

	resp, metrics := attacker.get("/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Regexp(t, `atlas_login_attempts_total\{outcome="rate_limited"\} [1-9]`, metrics)

	other := browserFrom(t, h, "127.0.0.22")
	resp, _ = other.tryLogin(h.seed.Users["operator"].Email, h.seed.Users["operator"].Password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// TestLoginRateLimitPerAccount: ten failed sign-ins for one account from ten addresses,
// and the eleventh for it (any case, any address, right password) is 429.
func TestLoginRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	h, probe := startLoginHub(t, tenancy.Options{}, 0)
	victim := h.seed.Users["readonly"]
	for i := range 10 {
		resp, body := browserFrom(t, h, fmt.Sprintf("127.0.1.%d", i+1)).tryLogin(victim.Email, "not the password")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	}
	resp, body := browserFrom(t, h, "127.0.1.99").tryLogin("ReadOnly@Contoso-MSP.demo", victim.Password)
	requireLimited(t, resp, body)
	require.EqualValues(t, 10, probe.calls.Load(), "bcrypt never runs for a limited request")

	// Another account from that address signs in.
	resp, _ = browserFrom(t, h, "127.0.1.99").tryLogin(h.seed.Users["owner"].Email, h.seed.Users["owner"].Password)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// TestLoginBcryptConcurrencyCap: concurrent sign-ins never run more password checks at
// once than the cap; with the cap full past the wait, a sign-in is 503 with Retry-After.
func TestLoginBcryptConcurrencyCap(t *testing.T) {
	t.Parallel()
	h, probe := startLoginHub(t, tenancy.Options{MaxConcurrentBcrypt: 2, BcryptWait: 20 * time.Second}, 30*time.Millisecond)
	who := []string{"owner", "operator", "readonly", "compliance"}
	type form struct {
		b    *browser
		vals url.Values
	}
	var forms []form
	for i := range 8 {
		b := browserFrom(t, h, fmt.Sprintf("127.0.2.%d", i+1))
		_, body := b.get("/admin/login")
		u := h.seed.Users[who[i%len(who)]]
		forms = append(forms, form{b, url.Values{"email": {u.Email}, "password": {u.Password}, "_csrf": {csrf(t, body)}}})
	}
	var wg sync.WaitGroup
	for _, f := range forms {
		wg.Go(func() {
			resp, _ := f.b.post("/admin/login", f.vals)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		})
	}
	wg.Wait()
	require.EqualValues(t, 8, probe.calls.Load())
	require.EqualValues(t, 2, probe.peak.Load(), "never more than the cap at once (and the cap is reached)")

	busyHub, busyProbe := startLoginHub(t, tenancy.Options{MaxConcurrentBcrypt: 1, BcryptWait: 100 * time.Millisecond}, 2*time.Second)
	slow := browserFrom(t, busyHub, "127.0.3.1")
	_, body := slow.get("/admin/login")
	done := make(chan struct{})
	go func() {
		defer close(done)
		slow.post("/admin/login", url.Values{"email": {"a@example.com"}, "password": {"whatever it is"}, "_csrf": {csrf(t, body)}})
	}()
	require.Eventually(t, func() bool { return busyProbe.running.Load() == 1 }, 10*time.Second, time.Millisecond)
	resp, body := browserFrom(t, busyHub, "127.0.3.2").tryLogin(busyHub.seed.Users["owner"].Email, busyHub.seed.Users["owner"].Password)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, body, "Sign-in is busy right now.")
	<-done
}

// auditRow is an audit entry as the tests compare them.
type auditRow struct{ Action, Outcome, Actor, Target, Reason, IP, UserAgent string }

// auditEntries returns the audit entries of the given actions, in the order they were made.
func auditEntries(t *testing.T, h *hub, actions ...string) []auditRow {
	t.Helper()
	rows, err := h.app.Pool.Query(context.Background(), `SELECT data->>'action', data->>'outcome', data->>'actor',
		COALESCE(data->>'target', ''), COALESCE(data->>'reason', ''), COALESCE(data->>'ip', ''), COALESCE(data->>'userAgent', '')
		FROM es_events WHERE event_type = 'AuditRecorded' AND data->>'action' = ANY($1) ORDER BY (data->>'entryId')::uuid`, actions)
	require.NoError(t, err)
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		require.NoError(t, rows.Scan(&r.Action, &r.Outcome, &r.Actor, &r.Target, &r.Reason, &r.IP, &r.UserAgent))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestLogoutEndsEverySessionAndIsAudited: signing out in one browser ends the user's
// session in another; sign-ins, the failed one and the logout are audit entries.
func TestLogoutEndsEverySessionAndIsAudited(t *testing.T) {
	t.Parallel()
	h, _ := startLoginHub(t, tenancy.Options{}, 0)
	op := h.seed.Users["operator"]
	laptop, phone := browserFrom(t, h, "127.0.4.1"), browserFrom(t, h, "127.0.4.2")
	resp, _ := laptop.tryLogin(op.Email, "not the password")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	laptop.login("operator")
	phone.login("operator")
	resp, body := laptop.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = phone.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = laptop.post("/admin/logout", url.Values{"_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	for _, b := range []*browser{laptop, phone} {
		resp, _ = b.get("/admin/operations")
		require.Equal(t, http.StatusFound, resp.StatusCode, "every session of the user ended")
		require.Equal(t, "/admin/login", resp.Header.Get("Location"))
	}
	// The login form no longer takes the revoked cookie for a session either.
	resp, _ = phone.get("/admin/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	phone.login("operator")
	resp, _ = phone.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode, "a new sign-in works")

	actor, target, ua := "user:"+op.ID.String(), "email:"+op.Email, "Go-http-client/1.1"
	require.Equal(t, []auditRow{
		{tenancy.ActionLogin, "failed", actor, target, tenancy.LoginBadPassword, "127.0.4.1", ua},
		{tenancy.ActionLogin, "succeeded", actor, target, "", "127.0.4.1", ua},
		{tenancy.ActionLogin, "succeeded", actor, target, "", "127.0.4.2", ua},
		{tenancy.ActionLogout, "succeeded", actor, actor, "", "127.0.4.1", ua},
		{tenancy.ActionLogin, "succeeded", actor, target, "", "127.0.4.2", ua},
	}, auditEntries(t, h, tenancy.ActionLogin, tenancy.ActionLogout))
	var n int
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events
		WHERE strpos(data::text, $1) > 0 OR strpos(data::text, 'not the password') > 0`, op.Password).Scan(&n))
	require.Zero(t, n, "no password in any event")
}

// TestPasswordChangeAndDisableEndSessions: a new password (the service `atlas user
// password` calls) ends every session and replaces the old one; disabling the user ends
// the session again, refuses the right password like a wrong one and refuses the API token.
func TestPasswordChangeAndDisableEndSessions(t *testing.T) {
	t.Parallel()
	h, _ := startLoginHub(t, tenancy.Options{}, 0)
	op := h.seed.Users["operator"]
	b := browserFrom(t, h, "127.0.5.1")
	b.login("operator")
	resp, _ := b.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	const next = "the operator's new passphrase"
	_, err := h.app.Tenancy.SetPassword(t.Context(), "system:test", op.Email, next)
	require.NoError(t, err)
	resp, _ = b.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode, "the password change ended the session")
	resp, body := b.tryLogin(op.Email, op.Password)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	wrongBody := body
	resp, _ = b.tryLogin(op.Email, next)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = b.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, _ := h.call(t, "operator", "GET", "/api/v1/operations", "")
	require.Equal(t, http.StatusOK, code)

	_, err = h.app.Tenancy.DisableUser(t.Context(), "system:test", op.Email)
	require.NoError(t, err)
	resp, _ = b.get("/admin/operations")
	require.Equal(t, http.StatusFound, resp.StatusCode, "disabling ended the session")
	resp, body = b.tryLogin(op.Email, next)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	noToken := func(s string) string { return csrfRe.ReplaceAllString(s, "") }
	require.Equal(t, noToken(wrongBody), noToken(body), "a disabled user's answer is a wrong password's")
	code, _ = h.call(t, "operator", "GET", "/api/v1/operations", "")
	require.Equal(t, http.StatusUnauthorized, code, "a disabled user's API token is refused")
}
