package web

import (
	"crypto/hmac"
	"errors"
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
	if _, ok := s.parseSession(c.Cookies(sessionCookie), time.Now()); ok {
		return c.Redirect("/admin/operations", fiber.StatusFound)
	}
	return s.render(c, fiber.StatusOK, "login", page{Title: "Sign in", CSRF: s.loginCSRF(c), Data: loginPage{}})
}

// handleLogin checks the credentials, starts a session and goes to the operations page.
func (s *Server) handleLogin(c *fiber.Ctx) error {
	nonce := c.Cookies(loginCookie)
	if nonce == "" || !hmac.Equal([]byte(c.FormValue(csrfField)), []byte(s.sign("csrf-login", nonce))) {
		return fiber.NewError(fiber.StatusForbidden, "The form has expired or did not come from this site. Go back, reload the page and try again.")
	}
	email := strings.TrimSpace(c.FormValue("email"))
	u, err := s.deps.Tenancy.AuthenticatePassword(c.UserContext(), email, c.FormValue("password"))
	if errors.Is(err, tenancy.ErrUnauthenticated) {
		return s.render(c, fiber.StatusUnauthorized, "login", page{Title: "Sign in", CSRF: s.loginCSRF(c),
			Data: loginPage{Email: email, Error: "The email or password is not correct."}})
	}
	if err != nil {
		return err
	}
	exp := time.Now().Add(sessionTTL)
	setCookie(c, sessionCookie, s.sessionValue(u.ID, exp), exp)
	clearCookie(c, loginCookie)
	return c.Redirect("/admin/operations", fiber.StatusSeeOther)
}

// handleLogout ends the session.
func (s *Server) handleLogout(c *fiber.Ctx) error {
	clearCookie(c, sessionCookie)
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}
