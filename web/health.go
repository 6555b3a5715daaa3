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

// handleReadyz answers 200 when the database answers and the read models have caught
// up with the log, 503 otherwise.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if s.deps.Database == nil || s.deps.Database.Ping(ctx) != nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "database unavailable")
	}
	if s.deps.Ready != nil {
		if err := s.deps.Ready(ctx); err != nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "projections catching up")
		}
	}
	return c.JSON(fiber.Map{"status": "ready", "checks": fiber.Map{"database": "ok", "projections": "ok"}})
}
