package tenancy_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// clock is a settable clock for the throttle's windows.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// bcryptProbe counts bcrypt computations and the most ever running at once; delay, when
// set, makes each one last that long.
type bcryptProbe struct {
	calls, running, peak atomic.Int64
	delay                time.Duration
}

func (p *bcryptProbe) hook(delta int) {
	if delta > 0 {
		p.calls.Add(1)
		n := p.running.Add(1)
		for {
			old := p.peak.Load()
			if n <= old || p.peak.CompareAndSwap(old, n) {
				break
			}
		}
		if p.delay > 0 {
			time.Sleep(p.delay)
		}
		return
	}
	p.running.Add(-1)
}

// loginBundle is a service on a database of its own (the throttle's counters are shared
// by everything on a database) with a settable clock and a bcrypt probe.
type loginBundle struct {
	bundle
	clock *clock
	probe *bcryptProbe
}

func setupLogin(t *testing.T, opts tenancy.Options) loginBundle {
	t.Helper()
	b := setupFresh(t)
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	probe := &bcryptProbe{}
	opts.Now, opts.BcryptCost, opts.BcryptHook = clk.Now, bcrypt.MinCost, probe.hook
	b.svc = tenancy.New(b.pool, b.store, opts)
	return loginBundle{bundle: b, clock: clk, probe: probe}
}

// attempt signs in from ip.
func (b loginBundle) attempt(email, password, ip string) (tenancy.User, error) {
	return b.svc.Login(b.ctx, tenancy.LoginAttempt{Email: email, Password: password, IP: ip, UserAgent: "login-test/1.0"})
}

// audits returns the auth.login audit entries, oldest first.
func (b loginBundle) audits(t *testing.T) []audit.AuditRecorded {
	t.Helper()
	// Entry ids are UUIDv7, monotonic within the process: their order is the order of
	// the attempts (sealing, which gives global positions, may lag).
	rows, err := b.pool.Query(b.ctx, `SELECT data FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 ORDER BY (data->>'entryId')::uuid`, tenancy.ActionLogin)
	require.NoError(t, err)
	defer rows.Close()
	var out []audit.AuditRecorded
	for rows.Next() {
		var a audit.AuditRecorded
		require.NoError(t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestLoginThrottlePerAccount(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{})
	u := b.user(t)
	b.probe.calls.Store(0)

	// Ten wrong passwords from ten addresses: each is checked (bcrypt runs) and refused.
	for i := range tenancy.LoginFailureLimit {
		_, err := b.attempt(u.Email, "wrong password "+fmt.Sprint(i), fmt.Sprintf("198.51.100.%d", i+1))
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	}
	require.EqualValues(t, tenancy.LoginFailureLimit, b.probe.calls.Load())

	// The 11th, from a fresh address, in upper case, even with the right password: refused
	// without bcrypt, told to come back when the window (started by the first failure) ends.
	b.clock.advance(20*time.Second + 300*time.Millisecond)
	_, err := b.attempt(strings.ToUpper(u.Email), testPassword, "203.0.113.50")
	var limited *tenancy.RateLimitedError
	require.ErrorAs(t, err, &limited)
	require.ErrorIs(t, err, tenancy.ErrRateLimited)
	require.Equal(t, 40*time.Second, limited.RetryAfter, "rounded up to whole seconds")
	require.EqualValues(t, tenancy.LoginFailureLimit, b.probe.calls.Load(), "bcrypt never runs for a limited attempt")

	// Another account from the same address is not affected.
	other := b.user(t)
	_, err = b.attempt(other.Email, testPassword, "203.0.113.50")
	require.NoError(t, err)

	// Once the window has passed, the right password works again.
	b.clock.advance(40 * time.Second)
	got, err := b.attempt(u.Email, testPassword, "203.0.113.50")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
}

func TestLoginThrottlePerAddress(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{})
	u := b.user(t)
	b.probe.calls.Store(0)
	const ip = "192.0.2.10"
	// Ten failures for ten different (unknown) accounts from one address.
	for i := range tenancy.LoginFailureLimit {
		_, err := b.attempt(fmt.Sprintf("nobody-%d@example.com", i), "whatever it is", ip)
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	}
	// The address is limited now, for any account, known or unknown, right password or not.
	for _, email := range []string{u.Email, "someone-else@example.com"} {
		_, err := b.attempt(email, testPassword, ip)
		require.ErrorIs(t, err, tenancy.ErrRateLimited, email)
	}
	require.EqualValues(t, tenancy.LoginFailureLimit, b.probe.calls.Load())
	// Another address may still sign in to that account: the refusals were not counted
	// against it.
	_, err := b.attempt(u.Email, testPassword, "192.0.2.11")
	require.NoError(t, err)
}

// TestLoginThrottleIsExactUnderConcurrency: 40 simultaneous wrong passwords for one
// account run bcrypt exactly ten times; successful sign-ins do not use up the allowance.
func TestLoginThrottleIsExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{MaxConcurrentBcrypt: 64})
	u := b.user(t)

	// Successes give back what they reserved.
	for i := range 15 {
		_, err := b.attempt(u.Email, testPassword, fmt.Sprintf("10.0.0.%d", i%2))
		require.NoError(t, err)
	}
	b.probe.calls.Store(0)
	var wg sync.WaitGroup
	var refused, failed atomic.Int64
	for i := range 40 {
		wg.Go(func() {
			_, err := b.attempt(u.Email, "not the password", fmt.Sprintf("10.1.%d.1", i))
			switch {
			case errors.Is(err, tenancy.ErrRateLimited):
				refused.Add(1)
			case errors.Is(err, tenancy.ErrUnauthenticated):
				failed.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, tenancy.LoginFailureLimit, failed.Load())
	require.EqualValues(t, 40-tenancy.LoginFailureLimit, refused.Load())
	require.EqualValues(t, tenancy.LoginFailureLimit, b.probe.calls.Load())
}

// TestLoginBcryptCap: concurrent sign-ins never run more bcrypt computations at once than
// the cap, and one that cannot get a slot in time is refused with ErrBusy (and not
// counted as a failure).
func TestLoginBcryptCap(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{MaxConcurrentBcrypt: 2, BcryptWait: 10 * time.Second})
	b.probe.delay = 20 * time.Millisecond
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, err := b.attempt(fmt.Sprintf("cap-%d@example.com", i), "whatever it is", fmt.Sprintf("10.2.0.%d", i))
			require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
		})
	}
	wg.Wait()
	require.EqualValues(t, 16, b.probe.calls.Load())
	require.EqualValues(t, 2, b.probe.peak.Load(), "at most the cap at once, and the cap is used")

	// The cap full for longer than the wait: ErrBusy, the attempt not counted.
	busy := setupLogin(t, tenancy.Options{MaxConcurrentBcrypt: 1, BcryptWait: 50 * time.Millisecond})
	busy.probe.delay = 2 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = busy.attempt("slow@example.com", "whatever it is", "10.3.0.1")
	}()
	require.Eventually(t, func() bool { return busy.probe.running.Load() == 1 }, 5*time.Second, time.Millisecond)
	_, err := busy.attempt("waiting@example.com", "whatever it is", "10.3.0.2")
	require.ErrorIs(t, err, tenancy.ErrBusy)
	var failures int
	require.NoError(t, busy.pool.QueryRow(busy.ctx, `SELECT COALESCE(sum(failures), 0) FROM tn_login_throttle
		WHERE key IN ('email:waiting@example.com', 'ip:10.3.0.2')`).Scan(&failures))
	require.Zero(t, failures, "a busy refusal is not a failure")
	<-done
}

func TestLoginAuditEntries(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{})
	u := b.user(t)
	disabled := b.user(t)
	_, err := b.svc.DisableUser(b.ctx, sys, disabled.Email)
	require.NoError(t, err)

	const wrong = "Wr0ng-Secret-Pa55word"
	_, err = b.attempt(u.Email, testPassword, "192.0.2.1")
	require.NoError(t, err)
	_, err = b.attempt(u.Email, wrong, "192.0.2.2")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = b.attempt("  Ghost@Example.com ", wrong, "192.0.2.3")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = b.attempt(disabled.Email, testPassword, "192.0.2.4")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated, "a disabled user cannot sign in")
	// Limited: only the first refusal of a window is an entry of its own.
	for range tenancy.LoginFailureLimit - 1 {
		_, err = b.attempt(u.Email, wrong, "192.0.2.5")
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	}
	for range 5 {
		_, err = b.attempt(u.Email, wrong, "192.0.2.6")
		require.ErrorIs(t, err, tenancy.ErrRateLimited)
	}

	got := b.audits(t)
	type row struct{ actor, target, outcome, reason, ip string }
	var rows []row
	for _, a := range got {
		require.Equal(t, "login-test/1.0", a.UserAgent)
		rows = append(rows, row{a.Actor, a.Target, a.Outcome, a.Reason, a.IP})
	}
	user, target := tenancy.UserActor(u.ID), "email:"+u.Email
	want := []row{
		{user, target, "succeeded", "", "192.0.2.1"},
		{user, target, "failed", tenancy.LoginBadPassword, "192.0.2.2"},
		{"system:login", "email:ghost@example.com", "failed", tenancy.LoginUnknownUser, "192.0.2.3"},
		{tenancy.UserActor(disabled.ID), "email:" + disabled.Email, "failed", tenancy.LoginDisabled, "192.0.2.4"},
	}
	for range tenancy.LoginFailureLimit - 1 {
		want = append(want, row{user, target, "failed", tenancy.LoginBadPassword, "192.0.2.5"})
	}
	want = append(want, row{"system:login", target, "failed", tenancy.LoginRateLimited, "192.0.2.6"})
	require.Equal(t, want, rows)

	// No password, right or wrong, anywhere.
	b.requireNowhere(t, testPassword)
	b.requireNowhere(t, wrong)
}

// TestLoginThrottleSweepsPassedWindows: rows of passed windows are deleted as new
// attempts come in, so the table does not grow with every address ever seen.
func TestLoginThrottleSweepsPassedWindows(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{})
	for i := range 30 {
		_, err := b.attempt(fmt.Sprintf("sweep-%d@example.com", i), "whatever it is", fmt.Sprintf("10.4.0.%d", i))
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	}
	count := func() int {
		var n int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM tn_login_throttle`).Scan(&n))
		return n
	}
	require.Equal(t, 60, count())
	b.clock.advance(tenancy.LoginFailureWindow + time.Second)
	_, err := b.attempt("late@example.com", "whatever it is", "10.5.0.1")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	require.Equal(t, 2, count(), "only the new attempt's keys are left")
}

// TestDisableAndPasswordEndSessionsAndTokens: both raise the session version; a disabled
// user's API tokens and password stop working; a new password replaces the old one.
func TestDisableAndPasswordEndSessionsAndTokens(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{})
	u := b.user(t)
	require.EqualValues(t, 1, u.SessionVersion)
	token, _, err := b.svc.IssueToken(b.ctx, sys, u.ID, "cli")
	require.NoError(t, err)

	const next = "a brand new passphrase"
	changed, err := b.svc.SetPassword(b.ctx, sys, strings.ToUpper(u.Email), next)
	require.NoError(t, err)
	require.EqualValues(t, 2, changed.SessionVersion)
	_, err = b.attempt(u.Email, testPassword, "192.0.2.20")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated, "the old password is gone")
	_, err = b.attempt(u.Email, next, "192.0.2.20")
	require.NoError(t, err)
	_, err = b.svc.SetPassword(b.ctx, sys, u.Email, "short")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	_, err = b.svc.SetPassword(b.ctx, sys, "nobody@example.com", next)
	require.ErrorIs(t, err, tenancy.ErrNotFound)

	require.NoError(t, b.svc.Logout(b.ctx, u.ID, tenancy.Origin{}))
	got, err := b.svc.User(b.ctx, u.ID)
	require.NoError(t, err)
	require.EqualValues(t, 3, got.SessionVersion)

	_, err = b.svc.AuthenticateToken(b.ctx, token)
	require.NoError(t, err)
	off, err := b.svc.DisableUser(b.ctx, sys, u.Email)
	require.NoError(t, err)
	require.True(t, off.Disabled)
	require.EqualValues(t, 4, off.SessionVersion)
	_, err = b.svc.AuthenticateToken(b.ctx, token)
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated, "a disabled user's token is refused")
	_, err = b.svc.AuthenticatePassword(b.ctx, u.Email, next)
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = b.attempt(u.Email, next, "192.0.2.21")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = b.svc.DisableUser(b.ctx, sys, "nobody@example.com")
	require.ErrorIs(t, err, tenancy.ErrNotFound)

	// The events name the user and the new version, never the password.
	require.Equal(t, []string{"UserRegistered", "APITokenIssued", "UserPasswordChanged", "UserSessionsRevoked", "UserDisabled"},
		b.eventTypes(t, tenancy.StreamUser, u.ID))
	envs := b.events(t, tenancy.StreamUser, u.ID)
	require.Equal(t, tenancy.UserDisabled{UserID: u.ID, SessionVersion: 4}, envs[len(envs)-1].Data)
	b.requireNowhere(t, next)
}
