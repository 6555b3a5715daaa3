package web

import (
	"errors"
	"maps"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// legacyPage is the data of the legacy_run template: a legacy row no run maps to.
type legacyPage struct {
	Row       projections.LegacyHistory
	Tenant    tenancy.Tenant
	CountKeys []string
}

// handleAdminLegacyRun is the legacy run view URL (/admin/legacy/{table}/{id}, spec
// 086): a row mapped to an operation run (linked, or imported as one) redirects to the
// canonical viewer, where its history reads, and a run the caller may not view answers
// as the viewer would (404 or 403); a row kept as history only (it named a run that does
// not exist or is another tenant's) renders read-only, to members who may view its
// tenant's operations (404 for others, 403 without the capability), with no start or
// retry; an unknown table or row is a 404.
func (s *Server) handleAdminLegacyRun(c *fiber.Ctx) error {
	table := c.Params("table")
	id, err := paramInt64(c, "id")
	if err != nil || !slices.Contains(legacy.Tables(), table) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	ctx := c.UserContext()
	runID, err := s.deps.Runs.LegacyRun(ctx, table, id)
	if errors.Is(err, projections.ErrNoMapping) {
		return s.legacyHistory(c, table, id)
	}
	if err != nil {
		return err
	}
	if _, err := s.authorizeRunView(c, runID); err != nil {
		return err
	}
	return c.Redirect(operations.RunURL(runID), fiber.StatusFound)
}

// legacyHistory renders the read-only page of an unmapped legacy row.
func (s *Server) legacyHistory(c *fiber.Ctx, table string, id int64) error {
	row, err := s.deps.Runs.LegacyHistoryRow(c.UserContext(), table, id)
	if errors.Is(err, projections.ErrNoMapping) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if err != nil {
		return err
	}
	t, dec, err := s.deps.Tenancy.Authorize(c.UserContext(), currentUser(c).ID, row.TenantID, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	if err := dec.Err(); err != nil {
		return s.auditDenied(c, "tenant", row.TenantID.String(), err)
	}
	data := legacyPage{Row: row, Tenant: t, CountKeys: slices.Sorted(maps.Keys(row.Counts))}
	return s.render(c, fiber.StatusOK, "legacy_run", page{Title: table + " " + c.Params("id") + " · Legacy run", Nav: "operations", Tenant: &t, Data: data})
}
