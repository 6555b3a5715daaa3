package web

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// operationsPage is the data of the operations template.
type operationsPage struct {
	Tenant     *tenancy.Tenant
	Runs       []projections.RunSummary
	NextURL    string
	Filtered   bool
	Types      []operations.TypeInfo
	Buckets    []operations.Bucket
	StartTypes []operations.TypeInfo
	Q          listQuery
}

// listQuery is the filter form's state.
type listQuery struct {
	Type, Bucket, Range, Since, Until string
}

const datetimeLocal = "2006-01-02T15:04"

// handleAdminOperations lists the runs of every tenant the user may see.
func (s *Server) handleAdminOperations(c *fiber.Ctx) error {
	return s.renderOperations(c, nil)
}

// handleAdminTenantOperations lists one tenant's runs, with the start form.
func (s *Server) handleAdminTenantOperations(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	return s.renderOperations(c, &t)
}

// renderOperations parses the filters, lists the visible runs and renders the table.
func (s *Server) renderOperations(c *fiber.Ctx, tenant *tenancy.Tenant) error {
	ctx := c.UserContext()
	q := listQuery{Type: c.Query("type"), Bucket: c.Query("bucket"), Range: c.Query("range"), Since: c.Query("since"), Until: c.Query("until")}
	f := projections.RunFilter{Limit: 50}
	var err error
	if f.Cursor, err = queryCursor(c, "This page link is no longer valid; start from the first page."); err != nil {
		return err
	}
	if q.Type != "" {
		if _, ok := operations.LookupType(q.Type); !ok {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "Unknown operation type.")
		}
		f.Type = q.Type
	}
	if q.Bucket != "" {
		b, err := operations.ParseBucket(q.Bucket)
		if err != nil {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "Unknown status.")
		}
		f.Bucket = b
	}
	switch q.Range {
	case "":
	case "24h":
		f.Since = time.Now().Add(-24 * time.Hour)
	case "7d":
		f.Since = time.Now().Add(-7 * 24 * time.Hour)
	case "30d":
		f.Since = time.Now().Add(-30 * 24 * time.Hour)
	default:
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Unknown time range.")
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		t, err := queryTime(c, name, datetimeLocal, "Times must look like 2026-01-31T14:00.")
		if err != nil {
			return err
		}
		if !t.IsZero() {
			*dst = t
		}
	}
	if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	data := operationsPage{Tenant: tenant, Q: q, Types: operations.Types(), Buckets: operations.Buckets(),
		Filtered: q != listQuery{} || f.Cursor != ""}
	if tenant != nil {
		f.Tenant = tenant.ID
		f.WorkspaceIDs = nil
		var err error
		if data.StartTypes, err = s.startableTypes(c, tenant.ID); err != nil {
			return err
		}
	}
	runs, next, err := s.deps.Runs.List(ctx, f)
	if errors.Is(err, projections.ErrBadCursor) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "This page link is no longer valid; start from the first page.")
	}
	if err != nil {
		return err
	}
	data.Runs = runs
	if next != "" {
		v := url.Values{}
		for k, val := range map[string]string{"type": q.Type, "bucket": q.Bucket, "range": q.Range, "since": q.Since, "until": q.Until, "cursor": next} {
			if val != "" {
				v.Set(k, val)
			}
		}
		data.NextURL = c.Path() + "?" + v.Encode()
	}
	title := "Operations"
	if tenant != nil {
		title = tenant.Name + " · Operations"
	}
	return s.render(c, fiber.StatusOK, "operations", page{Title: title, Nav: "operations", Tenant: tenant, Data: data})
}

// startableTypes are what the start form offers: the tenant-scoped run types the user's
// role may start on tenantID that a worker runs (operations.Service.Runnable) and that
// the catalog starts from the generic form (restores, schedules and runbooks have their
// own pages), sorted by type name; the first, the form's default, can run.
func (s *Server) startableTypes(c *fiber.Ctx, tenantID uuid.UUID) ([]operations.TypeInfo, error) {
	role, ok, err := s.deps.Tenancy.RoleFor(c.UserContext(), currentUser(c).ID, tenantID)
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
