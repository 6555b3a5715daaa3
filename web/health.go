package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// handleHealthz answers 200 while the process runs.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// handleReadyz answers 200 when the database answers, 503 otherwise.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if s.deps.Database == nil || s.deps.Database.Ping(ctx) != nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "database unavailable")
	}
	return c.JSON(fiber.Map{"status": "ready", "checks": fiber.Map{"database": "ok"}})
}
