package web

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/projections"
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
	runs, next, err := s.deps.Runs.List(ctx, f)
	if errors.Is(err, projections.ErrBadCursor) {
		return badRunCursor()
	}
	if err != nil {
		return err
	}
	rows, err := s.withTenantNames(ctx, runs, nil)
	if err != nil {
		return err
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"runs": rows, "nextCursor": cursor})
}
