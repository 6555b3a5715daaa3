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

// systemLoginCSRF returns the /system login form's CSRF token, bound to a nonce cookie
// (Path=/system) it sets when missing.
func (s *Server) systemLoginCSRF(c *fiber.Ctx) string {
	nonce := c.Cookies(systemLoginCookie)
	if nonce == "" {
		nonce = randomToken()
		systemCookies.set(c, systemLoginCookie, nonce, time.Now().Add(2*time.Hour))
	}
	return s.signSystem("csrf-login", nonce)
}

// handleSystemLoginForm renders the /system sign-in form (the fields of /admin/login).
func (s *Server) handleSystemLoginForm(c *fiber.Ctx) error {
	if _, ok, err := s.platformSessionUser(c.UserContext(), c.Cookies(systemSessionCookie)); err != nil {
		return err
	} else if ok {
		return c.Redirect("/system/ops", fiber.StatusFound)
	}
	return s.renderSystem(c, fiber.StatusOK, "system_login", systemPage{Title: "Sign in", CSRF: s.systemLoginCSRF(c), Data: loginPage{}})
}

// handleSystemLogin checks a platform user's credentials, starts a /system session and
// goes to /system/ops. Throttled per client address and email together (429 with
// Retry-After, the password not even checked); the answer is the same whether or not
// the email is a platform user's.
func (s *Server) handleSystemLogin(c *fiber.Ctx) error {
	nonce := c.Cookies(systemLoginCookie)
	if nonce == "" || !hmac.Equal([]byte(c.FormValue(csrfField)), []byte(s.signSystem("csrf-login", nonce))) {
		return fiber.NewError(fiber.StatusForbidden, formExpired)
	}
	email := strings.TrimSpace(c.FormValue("email"))
	u, err := s.deps.Tenancy.PlatformLogin(c.UserContext(), tenancy.LoginAttempt{Email: email, Password: c.FormValue("password"),
		IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)})
	again := func(status int, msg string) error {
		return s.renderSystem(c, status, "system_login", systemPage{Title: "Sign in", CSRF: s.systemLoginCSRF(c),
			Data: loginPage{Email: email, Error: msg}})
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
	systemCookies.set(c, systemSessionCookie, s.systemSessionValue(u, exp), exp)
	systemCookies.clear(c, systemLoginCookie)
	return c.Redirect("/system/ops", fiber.StatusSeeOther)
}

// handleSystemLogout ends every /system session of the platform user and records it.
func (s *Server) handleSystemLogout(c *fiber.Ctx) error {
	if err := s.deps.Tenancy.PlatformLogout(c.UserContext(), currentPlatformUser(c).ID,
		tenancy.Origin{IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)}); err != nil {
		return err
	}
	systemCookies.clear(c, systemSessionCookie)
	return c.Redirect("/system/login", fiber.StatusSeeOther)
}

// handleSystemHome is /system/ops: who is signed in and what they may do. It links only
// to pages that exist.
func (s *Server) handleSystemHome(c *fiber.Ctx) error {
	return s.renderSystem(c, fiber.StatusOK, "system_home", systemPage{Title: "Platform operations", Nav: "home"})
}
