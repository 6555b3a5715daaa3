package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/tenantatlas/ops/modules/tenancy"
)

const localUser = "atlas.user"

// requireToken authenticates an API request by its bearer token.
func (s *Server) requireToken(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return fiber.NewError(fiber.StatusUnauthorized, "missing bearer token")
	}
	u, err := s.deps.Tenancy.AuthenticateToken(c.UserContext(), strings.TrimSpace(token))
	if errors.Is(err, tenancy.ErrUnauthenticated) {
		return fiber.NewError(fiber.StatusUnauthorized, "invalid bearer token")
	}
	if err != nil {
		return err
	}
	c.Locals(localUser, u)
	return c.Next()
}

// currentUser is the authenticated user of the request.
func currentUser(c *fiber.Ctx) tenancy.User {
	u, _ := c.Locals(localUser).(tenancy.User)
	return u
}
