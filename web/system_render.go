package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// systemPage is what every /system template receives (system_layout.html).
type systemPage struct {
	Title string
	// Nav names the active entry of the panel's navigation.
	Nav string
	// User is the signed-in platform user (zero on the login page and anonymous errors).
	User tenancy.PlatformUser
	// CSRF is the token of the page's forms (the sign-out form's too).
	CSRF string
	Data any
}

// renderSystem writes a /system page with status.
func (s *Server) renderSystem(c *fiber.Ctx, status int, name string, p systemPage) error {
	if p.User.Email == "" {
		p.User = currentPlatformUser(c)
	}
	if p.CSRF == "" {
		p.CSRF, _ = c.Locals(localCSRF).(string)
	}
	return s.writePage(c, status, name, p)
}

// renderSystemError answers a /system request's error as the panel's error page (a
// missing capability is a 403 page, never a 500); unexpected errors are logged once and
// never shown.
func (s *Server) renderSystemError(c *fiber.Ctx, err error) error {
	e := s.errorPageOf(c, err)
	if e.Status == fiber.StatusForbidden && !strings.HasPrefix(e.Message, "The form") {
		e.Message = "Your platform capabilities do not allow this."
	}
	if rerr := s.renderSystem(c, e.Status, "system_error", systemPage{Title: e.Heading, Data: e}); rerr != nil {
		s.deps.Logger.Error("render error page", "error", rerr.Error())
		return c.Status(e.Status).SendString(e.Heading)
	}
	return nil
}
