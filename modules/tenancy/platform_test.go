package tenancy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestCreatePlatformUser: capabilities are a checked set, the email unique among platform
// users (and apart from workspace users), the password rules those of workspace users.
func TestCreatePlatformUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	email := uniq("ops") + "@Example.com"
	u, err := b.svc.CreatePlatformUser(b.ctx, sys, tenancy.NewPlatformUser{Email: email, Password: testPassword,
		Capabilities: []tenancy.PlatformCapability{tenancy.PlatformRunbooksRun, tenancy.PlatformOpsView, tenancy.PlatformOpsView},
		BreakGlass:   true})
	require.NoError(t, err)
	require.Equal(t, []tenancy.PlatformCapability{tenancy.PlatformOpsView, tenancy.PlatformRunbooksRun}, u.Capabilities)
	require.Equal(t, u.Email, u.Name, "the name defaults to the email")
	got, err := b.svc.PlatformUserByEmail(b.ctx, email)
	require.NoError(t, err)
	require.Equal(t, u, got)
	require.True(t, got.BreakGlass)
	require.True(t, got.Can(tenancy.PlatformOpsView))
	require.False(t, got.Can(tenancy.PlatformRunbooksView))

	_, err = b.svc.CreatePlatformUser(b.ctx, sys, tenancy.NewPlatformUser{Email: email, Password: testPassword})
	require.ErrorIs(t, err, tenancy.ErrConflict)
	for _, bad := range []tenancy.NewPlatformUser{
		{Email: uniq("a") + "@example.com", Password: "short"},
		{Email: "not an email", Password: testPassword},
		{Email: uniq("b") + "@example.com", Password: testPassword, Capabilities: []tenancy.PlatformCapability{"operations.view"}},
	} {
		_, err = b.svc.CreatePlatformUser(b.ctx, sys, bad)
		require.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", bad)
	}
	// A workspace user's email is no platform user, and the reverse.
	w := b.user(t)
	_, err = b.svc.PlatformUserByEmail(b.ctx, w.Email)
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.UserByEmail(b.ctx, email)
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.CreatePlatformUser(b.ctx, sys, tenancy.NewPlatformUser{Email: w.Email, Password: testPassword})
	require.NoError(t, err, "the same email may be a workspace user and a platform user")
	b.requireNowhere(t, testPassword)
}

// TestPlatformLoginThrottle: ten failures for one address and email together, and the
// eleventh is refused without bcrypt and audited once; another email from that address,
// or that email from another address, still signs in (the key is the pair); the hub's
// Login keys are apart. Successes give their count back.
func TestPlatformLoginThrottle(t *testing.T) {
	t.Parallel()
	b := setupLogin(t, tenancy.Options{})
	u, err := b.svc.CreatePlatformUser(b.ctx, sys, tenancy.NewPlatformUser{Email: "ops@example.com", Name: "Ops",
		Password: testPassword, Capabilities: tenancy.PlatformCapabilities()})
	require.NoError(t, err)
	other, err := b.svc.CreatePlatformUser(b.ctx, sys, tenancy.NewPlatformUser{Email: "other@example.com", Password: testPassword})
	require.NoError(t, err)
	login := func(email, password, ip string) (tenancy.PlatformUser, error) {
		return b.svc.PlatformLogin(b.ctx, tenancy.LoginAttempt{Email: email, Password: password, IP: ip, UserAgent: "platform-test/1.0"})
	}
	// Successes never add up to a limit.
	for range 2 * tenancy.LoginFailureLimit {
		got, err := login(u.Email, testPassword, "198.51.100.1")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
	}
	b.probe.calls.Store(0)
	for i := range tenancy.LoginFailureLimit {
		_, err := login("OPS@example.com", fmt.Sprint("wrong ", i), "198.51.100.1")
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	}
	require.EqualValues(t, tenancy.LoginFailureLimit, b.probe.calls.Load())
	b.clock.advance(15 * time.Second)
	for range 3 {
		_, err = login(u.Email, testPassword, "198.51.100.1")
		var limited *tenancy.RateLimitedError
		require.ErrorAs(t, err, &limited)
		require.Equal(t, 45*time.Second, limited.RetryAfter)
	}
	require.EqualValues(t, tenancy.LoginFailureLimit, b.probe.calls.Load(), "bcrypt never runs for a limited attempt")

	_, err = login(other.Email, testPassword, "198.51.100.1")
	require.NoError(t, err, "another email from the address")
	_, err = login(u.Email, testPassword, "198.51.100.2")
	require.NoError(t, err, "the email from another address")
	_, err = b.attempt("ops@example.com", testPassword, "198.51.100.1")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated, "a platform user is no hub user (and the hub's keys are not limited)")

	b.clock.advance(45 * time.Second)
	_, err = login(u.Email, testPassword, "198.51.100.1")
	require.NoError(t, err, "the window has passed")

	// Every attempt is audited, the refusals once per window.
	rows, err := b.pool.Query(b.ctx, `SELECT data FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 ORDER BY (data->>'entryId')::uuid`, tenancy.ActionPlatformLogin)
	require.NoError(t, err)
	var entries []audit.AuditRecorded
	for rows.Next() {
		var a audit.AuditRecorded
		require.NoError(t, rows.Scan(&a))
		entries = append(entries, a)
	}
	require.NoError(t, rows.Err())
	require.Len(t, entries, 2*tenancy.LoginFailureLimit+tenancy.LoginFailureLimit+1+3)
	actor := tenancy.PlatformActor(u.ID)
	require.Equal(t, audit.AuditRecorded{EntryID: entries[0].EntryID, Action: tenancy.ActionPlatformLogin, Outcome: "succeeded",
		Actor: actor, Target: "email:ops@example.com", IP: "198.51.100.1", UserAgent: "platform-test/1.0"}, entries[0])
	failed := entries[2*tenancy.LoginFailureLimit]
	require.Equal(t, []string{"failed", tenancy.LoginBadPassword, actor}, []string{failed.Outcome, failed.Reason, failed.Actor})
	limited := entries[3*tenancy.LoginFailureLimit]
	require.Equal(t, []string{"failed", tenancy.LoginRateLimited, "system:platform-login", "198.51.100.1"},
		[]string{limited.Outcome, limited.Reason, limited.Actor, limited.IP})

	// Unknown and disabled users fail alike, each with its reason.
	_, err = login("nobody@example.com", testPassword, "198.51.100.3")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = b.svc.DisablePlatformUser(b.ctx, sys, other.Email)
	require.NoError(t, err)
	_, err = login(other.Email, testPassword, "198.51.100.3")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	var reasons []string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT array_agg(data->>'reason' ORDER BY (data->>'entryId')::uuid) FROM es_events
		WHERE event_type = 'AuditRecorded' AND data->>'action' = $1 AND data->>'ip' = '198.51.100.3'`,
		tenancy.ActionPlatformLogin).Scan(&reasons))
	require.Equal(t, []string{tenancy.LoginUnknownUser, tenancy.LoginDisabled}, reasons)
	b.requireNowhere(t, testPassword)
}

// TestPlatformLogoutEndsSessions: logout and disabling raise the session version.
func TestPlatformLogoutEndsSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, err := b.svc.CreatePlatformUser(b.ctx, sys, tenancy.NewPlatformUser{Email: uniq("ops") + "@example.com", Password: testPassword})
	require.NoError(t, err)
	require.NoError(t, b.svc.PlatformLogout(b.ctx, u.ID, tenancy.Origin{IP: "192.0.2.1", UserAgent: "ua"}))
	got, err := b.svc.PlatformUser(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.SessionVersion+1, got.SessionVersion)
	off, err := b.svc.DisablePlatformUser(b.ctx, sys, u.Email)
	require.NoError(t, err)
	require.True(t, off.Disabled)
	require.False(t, off.Can(tenancy.PlatformOpsView))
	require.Equal(t, got.SessionVersion+1, off.SessionVersion)
	require.Equal(t, []string{"PlatformUserCreated", "PlatformUserSessionsRevoked", "PlatformUserDisabled"},
		b.eventTypes(t, tenancy.StreamPlatformUser, u.ID))
}
