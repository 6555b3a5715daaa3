package web

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// loginPage is the data of the login template.
type loginPage struct {
	Email string
	Error string
}

// loginFlow is one panel's sign-in (/admin, /system): the same form, CSRF nonce,
// throttling answers, session start and sign-out, with the panel's own session codec,
// pages and account checks.
type loginFlow struct {
	codec sessionCodec
	// home is where a signed-in account goes; loginPath where a signed-out one goes.
	home, loginPath string
	// signedIn reports whether a session cookie value is live.
	signedIn func(ctx context.Context, raw string) (bool, error)
	// authenticate checks a sign-in (throttled and audited by the module) and returns
	// the account's id and session version.
	authenticate func(ctx context.Context, a tenancy.LoginAttempt) (uuid.UUID, int64, error)
	// current is the signed-in account's id; logout ends its sessions.
	current func(c *fiber.Ctx) uuid.UUID
	logout  func(ctx context.Context, id uuid.UUID, from tenancy.Origin) error
	// render writes the panel's sign-in page.
	render func(c *fiber.Ctx, status int, csrf string, data loginPage) error
}

// hubLogin is the /admin sign-in.
func (s *Server) hubLogin() loginFlow {
	return loginFlow{
		codec: s.hubSessions(), home: "/admin/operations", loginPath: "/admin/login",
		signedIn: func(ctx context.Context, raw string) (bool, error) {
			_, ok, err := s.sessionUser(ctx, raw)
			return ok, err
		},
		authenticate: func(ctx context.Context, a tenancy.LoginAttempt) (uuid.UUID, int64, error) {
			u, err := s.deps.Tenancy.Login(ctx, a)
			return u.ID, u.SessionVersion, err
		},
		current: func(c *fiber.Ctx) uuid.UUID { return currentUser(c).ID },
		logout:  s.deps.Tenancy.Logout,
		render: func(c *fiber.Ctx, status int, csrf string, data loginPage) error {
			return s.render(c, status, "login", page{Title: "Sign in", CSRF: csrf, Data: data})
		},
	}
}

// csrf returns the login form's CSRF token, bound to a nonce cookie it sets when missing.
func (f loginFlow) csrf(c *fiber.Ctx) string {
	nonce := c.Cookies(f.codec.login)
	if nonce == "" {
		nonce = randomToken()
		f.codec.scope.set(c, f.codec.login, nonce, time.Now().Add(2*time.Hour))
	}
	return f.codec.sign("csrf-login", nonce)
}

// form renders the sign-in form, or goes home when already signed in.
func (f loginFlow) form(c *fiber.Ctx) error {
	if ok, err := f.signedIn(c.UserContext(), c.Cookies(f.codec.cookie)); err != nil {
		return err
	} else if ok {
		return c.Redirect(f.home, fiber.StatusFound)
	}
	return f.render(c, fiber.StatusOK, f.csrf(c), loginPage{})
}

// submit checks the credentials, starts a session and goes home. Failed sign-ins are
// throttled by the module (429 with Retry-After, the password not even checked); every
// answer is the same whether or not the email belongs to an account.
func (f loginFlow) submit(c *fiber.Ctx) error {
	nonce := c.Cookies(f.codec.login)
	if nonce == "" || !f.codec.valid(c.FormValue(csrfField), "csrf-login", nonce) {
		return fiber.NewError(fiber.StatusForbidden, formExpired)
	}
	email := strings.TrimSpace(c.FormValue("email"))
	id, version, err := f.authenticate(c.UserContext(), tenancy.LoginAttempt{Email: email, Password: c.FormValue("password"),
		IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)})
	again := func(status int, msg string) error {
		return f.render(c, status, f.csrf(c), loginPage{Email: email, Error: msg})
	}
	var limited *tenancy.RateLimitedError
	switch {
	case errors.As(err, &limited):
		secs := int64(limited.RetryAfter / time.Second)
		c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
		return again(fiber.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins. Try again in %d seconds.", secs))
	case errors.Is(err, tenancy.ErrBusy):
		c.Set(fiber.HeaderRetryAfter, "1")
		return again(fiber.StatusServiceUnavailable, "Sign-in is busy right now. Try again in a moment.")
	case errors.Is(err, tenancy.ErrUnauthenticated):
		return again(fiber.StatusUnauthorized, "The email or password is not correct.")
	case err != nil:
		return err
	}
	exp := time.Now().Add(sessionTTL)
	f.codec.scope.set(c, f.codec.cookie, f.codec.value(id, version, exp), exp)
	f.codec.scope.clear(c, f.codec.login)
	return c.Redirect(f.home, fiber.StatusSeeOther)
}

// signOut ends every session of the account (not only this browser's), which the module
// records, and goes to the sign-in page.
func (f loginFlow) signOut(c *fiber.Ctx) error {
	if err := f.logout(c.UserContext(), f.current(c),
		tenancy.Origin{IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)}); err != nil {
		return err
	}
	f.codec.scope.clear(c, f.codec.cookie)
	return c.Redirect(f.loginPath, fiber.StatusSeeOther)
}

// handleLoginForm renders the sign-in form.
func (s *Server) handleLoginForm(c *fiber.Ctx) error { return s.hubLogin().form(c) }

// handleLogin checks the credentials, starts a session and goes to the operations page.
// Failed sign-ins are throttled per client address and per account.
func (s *Server) handleLogin(c *fiber.Ctx) error { return s.hubLogin().submit(c) }

// handleLogout ends every session of the user (not only this browser's) and records it.
func (s *Server) handleLogout(c *fiber.Ctx) error { return s.hubLogin().signOut(c) }
