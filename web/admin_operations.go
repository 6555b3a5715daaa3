package web

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// operationsPage is the data of the operations template.
type operationsPage struct {
	Tenant     *tenancy.Tenant
	Runs       []runRow
	NextURL    string
	Filtered   bool
	Types      []operations.TypeInfo
	Buckets    []operations.Bucket
	StartTypes []operations.TypeInfo
	Q          runListQuery
	// ExportURL is this list as CSV, with the same filters (the page's path + ".csv").
	ExportURL string
	// ViewURL is this list with its filters, what "Save view" keeps.
	ViewURL string
	// Views are the user's saved views.
	Views []projections.SavedView
}

// handleAdminOperations lists the runs of every tenant the user may see.
func (s *Server) handleAdminOperations(c *fiber.Ctx) error {
	return s.renderOperations(c, nil)
}

// handleAdminTenantOperations lists one tenant's runs, with the start form.
func (s *Server) handleAdminTenantOperations(c *fiber.Ctx) error {
	return s.forViewedTenant(c, s.renderOperations)
}

// forViewedTenant renders a tenant's page by render when the user may view the
// tenant's operations (an outsider 404, a member without the capability 403).
func (s *Server) forViewedTenant(c *fiber.Ctx, render func(*fiber.Ctx, *tenancy.Tenant) error) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	return render(c, &t)
}

// renderOperations parses the filters, lists the visible runs and renders the table.
func (s *Server) renderOperations(c *fiber.Ctx, tenant *tenancy.Tenant) error {
	ctx := c.UserContext()
	f, q, err := parseRunFilter(c, surfaceHub, time.Now())
	if err != nil {
		return err
	}
	if tenant != nil {
		// The page has authorized operations.view on its tenant: the list needs no
		// other visibility (and the layout's switcher asks for its few tenants itself).
		f.TenantIDs = []uuid.UUID{tenant.ID}
	} else if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	data := operationsPage{Tenant: tenant, Q: q, Types: operations.Types(), Buckets: operations.Buckets(),
		Filtered: q.Filtered() || f.Cursor != "", ExportURL: c.Path() + ".csv?" + q.values("").Encode(),
		ViewURL: c.Path() + "?" + q.values("").Encode()}
	if tenant != nil {
		f.Tenant = tenant.ID
		if data.StartTypes, err = s.startableTypes(c, tenant.ID); err != nil {
			return err
		}
	}
	var next string
	f.WithoutCounts = true // the table shows none; the API's list keeps them
	if data.Runs, next, err = s.listRuns(ctx, f, tenant); err != nil {
		return err
	}
	if next != "" {
		data.NextURL = c.Path() + "?" + q.values(next).Encode()
	}
	title := "Operations"
	if tenant != nil {
		title = tenant.Name + " · Operations"
	}
	// The saved views ride with the layout's reads (one round trip); Data is a pointer
	// so that they land in what the template reads.
	userID := currentUser(c).ID
	return s.render(c, fiber.StatusOK, "operations", page{Title: title, Nav: "operations", Tenant: tenant, Data: &data,
		reads: []func(*pgx.Batch){func(b *pgx.Batch) { s.deps.Runs.QueueSavedViews(b, userID, &data.Views) }}})
}

// startableTypes are what the start form offers: the tenant-scoped run types the user's
// role may start on tenantID that a worker runs (operations.Service.Runnable) and that
// the catalog starts from the generic form (restores, schedules and runbooks have their
// own pages), sorted by type name; the first, the form's default, can run.
func (s *Server) startableTypes(c *fiber.Ctx, tenantID uuid.UUID) ([]operations.TypeInfo, error) {
	role, ok, err := s.roleFor(c, tenantID)
	if err != nil || !ok {
		return nil, err
	}
	var out []operations.TypeInfo
	for _, t := range operations.Types() {
		if !t.WorkspaceScoped && t.Identity != operations.IdentityScheduled && role.Can(t.StartCapability) &&
			s.deps.Operations.Runnable(t.Type) && t.StartsFrom(operations.SurfaceStartForm) {
			out = append(out, t)
		}
	}
	return out, nil
}
