package web

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// driftPage is the data of the drift template.
type driftPage struct {
	Tenant  tenancy.Tenant
	Reports []drift.Report
}

// driftReportPage is the data of the drift_report template.
type driftReportPage struct {
	Tenant   tenancy.Tenant
	Report   drift.Report
	Findings []drift.Finding
	// Runs are the runs that linked the report's findings (its drift run).
	Runs relatedRuns
}

// handleAdminDrift lists a tenant's drift reports, newest first. ?run= (the related
// link of a drift.generate run) goes to that run's findings when it has a report.
func (s *Server) handleAdminDrift(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	runID, err := queryUUID(c, "run", fiber.StatusNotFound)
	if err != nil {
		return err
	}
	if runID != uuid.Nil {
		// A run without a report of this tenant (blocked, failed, still queued) lists
		// the reports rather than linking a page that does not exist.
		report, err := s.deps.Drift.Report(c.UserContext(), runID)
		switch {
		case err == nil && report.TenantID == t.ID:
			return c.Redirect(driftReportURL(t.ID, runID), fiber.StatusFound)
		case err != nil && !errors.Is(err, drift.ErrNotFound):
			return err
		}
	}
	reports, err := s.deps.Drift.Reports(c.UserContext(), t.ID, 50)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "drift", page{Title: t.Name + " · Drift", Nav: "drift", Tenant: &t,
		Data: driftPage{Tenant: t, Reports: reports}})
}

// handleAdminDriftReport shows the findings of one drift.generate run: what was added,
// removed or changed, with the changed fields' before and after.
func (s *Server) handleAdminDriftReport(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	runID, err := paramUUID(c, "run")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	report, err := s.deps.Drift.Report(ctx, runID)
	if err != nil {
		return err
	}
	if report.TenantID != t.ID {
		return notInTenant()
	}
	findings, err := s.deps.Drift.FindingsByRun(ctx, runID)
	if err != nil {
		return err
	}
	runs, err := s.relatedRunsOf(ctx, t, "The runs that wrote these findings, newest first.", time.Time{},
		operations.RunLinked{Kind: operations.LinkDriftFindings, ID: runID})
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "drift_report", page{Title: t.Name + " · Drift findings", Nav: "drift", Tenant: &t,
		Data: driftReportPage{Tenant: t, Report: report, Findings: findings, Runs: runs}})
}

// driftReportURL is the hub page of a drift run's findings.
func driftReportURL(tenantID, runID uuid.UUID) string {
	return "/admin/t/" + tenantID.String() + "/drift/" + runID.String()
}
