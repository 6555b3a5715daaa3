package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/replay"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// handleAPIAudit is GET /api/v1/audit?actor=&action=&tenant=&outcome=&since=&until=&cursor=&limit=:
// the audit entries the caller may read (audit.view), newest first, each as in an export
// (hashes in hex), with the next page's cursor (null on the last).
func (s *Server) handleAPIAudit(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	entries, next, _, err := s.auditPage(c, limit)
	if err != nil {
		return err
	}
	events := make([]exportRow, 0, len(entries))
	for _, e := range entries {
		events = append(events, exportRowOf(e))
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"events": events, "nextCursor": cursor})
}

// handleAPITenantReplay is GET /api/v1/tenants/{tenant}/replay?asOf=RFC3339: the
// tenant's runs and provider connections as of that instant (now when absent), rebuilt
// from events alone (audit.view on the tenant; 404 not a member, 403 without it).
func (s *Server) handleAPITenantReplay(c *fiber.Ctx) error {
	if s.deps.Events == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	id, err := paramUUID(c, "tenant")
	if err != nil {
		return err
	}
	t, dec, err := s.deps.Tenancy.Authorize(c.UserContext(), currentUser(c).ID, id, tenancy.CapAuditView)
	if err != nil {
		return err
	}
	if err := decisionError(dec); err != nil {
		return err
	}
	asOf, err := queryAsOf(c, time.Now())
	if err != nil {
		return err
	}
	out, err := replay.Tenant(c.UserContext(), s.deps.Events, t.ID, asOf, nil)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
