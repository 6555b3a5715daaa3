package web

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// handleAPIRuns lists the runs the caller may see, newest first, with the filters of
// parseRunFilter (tenant, type, bucket, range, since, until) and keyset pagination
// (cursor, limit).
func (s *Server) handleAPIRuns(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f, _, err := parseRunFilter(c, surfaceAPI, time.Now())
	if err != nil {
		return err
	}
	if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	rows, next, err := s.listRuns(ctx, f, nil)
	if err != nil {
		return err
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"runs": rows, "nextCursor": cursor})
}
