package web

import (
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// handleAdminLegacyRun is the legacy run view URL (/admin/legacy/{table}/{id}): a row
// mapped to an operation run (linked, or imported as one) redirects to the canonical
// viewer, where its history reads; an unknown table, row or run is a 404, and a run the
// caller may not view answers as the viewer would (404 or 403).
func (s *Server) handleAdminLegacyRun(c *fiber.Ctx) error {
	table := c.Params("table")
	id, err := paramInt64(c, "id")
	if err != nil || !slices.Contains(legacy.Tables(), table) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	runID, err := s.deps.Runs.LegacyRun(c.UserContext(), table, id)
	if errors.Is(err, projections.ErrNoMapping) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if err != nil {
		return err
	}
	if _, err := s.authorizeRunView(c, runID); err != nil {
		return err
	}
	return c.Redirect(operations.RunURL(runID), fiber.StatusFound)
}
