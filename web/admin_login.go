package web

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// loginPage is the data of the login template.
type loginPage struct {
	Email string
	Error string
}

// loginCSRF returns the login form's CSRF token, bound to a nonce cookie it sets when missing.
func (s *Server) loginCSRF(c *fiber.Ctx) string {
	nonce := c.Cookies(loginCookie)
	if nonce == "" {
		nonce = randomToken()
		setCookie(c, loginCookie, nonce, time.Now().Add(2*time.Hour))
	}
	return s.sign("csrf-login", nonce)
}

// handleLoginForm renders the sign-in form.
func (s *Server) handleLoginForm(c *fiber.Ctx) error {
	if _, ok, err := s.sessionUser(c.UserContext(), c.Cookies(sessionCookie)); err != nil {
		return err
	} else if ok {
		return c.Redirect("/admin/operations", fiber.StatusFound)
	}
	return s.render(c, fiber.StatusOK, "login", page{Title: "Sign in", CSRF: s.loginCSRF(c), Data: loginPage{}})
}

// handleLogin checks the credentials, starts a session and goes to the operations page.
// Failed sign-ins are throttled per client address and per account (429 with
// Retry-After, the password not even checked); every answer is the same whether or not
// the email belongs to a user.
func (s *Server) handleLogin(c *fiber.Ctx) error {
	nonce := c.Cookies(loginCookie)
	if nonce == "" || !hmac.Equal([]byte(c.FormValue(csrfField)), []byte(s.sign("csrf-login", nonce))) {
		return fiber.NewError(fiber.StatusForbidden, "The form has expired or did not come from this site. Go back, reload the page and try again.")
	}
	email := strings.TrimSpace(c.FormValue("email"))
	u, err := s.deps.Tenancy.Login(c.UserContext(), tenancy.LoginAttempt{Email: email, Password: c.FormValue("password"),
		IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)})
	again := func(status int, msg string) error {
		return s.render(c, status, "login", page{Title: "Sign in", CSRF: s.loginCSRF(c), Data: loginPage{Email: email, Error: msg}})
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
	setCookie(c, sessionCookie, s.sessionValue(u.ID, u.SessionVersion, exp), exp)
	clearCookie(c, loginCookie)
	return c.Redirect("/admin/operations", fiber.StatusSeeOther)
}

// handleLogout ends every session of the user (not only this browser's) and records it.
func (s *Server) handleLogout(c *fiber.Ctx) error {
	if err := s.deps.Tenancy.Logout(c.UserContext(), currentUser(c).ID,
		tenancy.Origin{IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)}); err != nil {
		return err
	}
	clearCookie(c, sessionCookie)
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}
