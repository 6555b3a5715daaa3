package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// viewableRun parses the :run parameter and loads the run if the caller may view it:
// an unparseable id is a 404 like an unknown one; operations' ErrNotFound/ErrForbidden
// are mapped to 404/403 by the error handler.
func (s *Server) viewableRun(c *fiber.Ctx) (*operations.Run, error) {
	id, err := paramUUID(c, "run")
	if err != nil {
		return nil, s.auditDenied(c, "run", c.Params("run"), err)
	}
	return s.authorizeRunView(c, id)
}

// authorizeRunView loads run id if the caller may view it; a refusal is audited.
func (s *Server) authorizeRunView(c *fiber.Ctx, id uuid.UUID) (*operations.Run, error) {
	run, err := s.deps.Operations.AuthorizeView(c.UserContext(), currentUser(c).ID, id)
	if err != nil {
		return nil, s.auditDenied(c, "run", id.String(), err)
	}
	return run, nil
}

// auditDenied records a refused view of a tenant or run (kind) as requested — a 404
// (not a member, unknown, malformed) or a 403 (a member lacking the capability) — and
// returns err for the error handler. Other errors pass through unrecorded; at most
// audit.DeniedLimit refusals per user and kind a minute are recorded (the module caps
// them), and a failure to record is logged, not shown: the caller gets its 404/403.
func (s *Server) auditDenied(c *fiber.Ctx, kind, requested string, err error) error {
	forbidden := errors.Is(err, operations.ErrForbidden) || errors.Is(err, tenancy.ErrForbidden)
	var fe *fiber.Error
	notFound := errors.Is(err, operations.ErrNotFound) || errors.Is(err, tenancy.ErrNotFound) ||
		(errors.As(err, &fe) && fe.Code == fiber.StatusNotFound)
	if !forbidden && !notFound {
		return err
	}
	_, rerr := s.deps.Tenancy.RecordDeniedView(c.UserContext(), tenancy.DeniedView{UserID: currentUser(c).ID, Kind: kind,
		Requested: requested, Forbidden: forbidden, Route: c.Route().Path,
		From: tenancy.Origin{IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)}})
	if rerr != nil {
		s.deps.Logger.Error("audit of a denied view not recorded", "kind", kind, "error", operations.Sanitize(rerr.Error()))
	}
	return err
}

// authorizedTenant parses the :tenant parameter and returns the tenant if the caller has
// capability on it: an unparseable id, an unknown tenant and a tenant the caller is no
// member of are all a 404 (nothing is revealed); a member without the capability a 403.
func (s *Server) authorizedTenant(c *fiber.Ctx, capability tenancy.Capability) (tenancy.Tenant, error) {
	id, err := paramUUID(c, "tenant")
	if err != nil {
		return tenancy.Tenant{}, s.auditDenied(c, "tenant", c.Params("tenant"), err)
	}
	t, role, dec, err := s.deps.Tenancy.AuthorizeRole(c.UserContext(), currentUser(c).ID, id, capability)
	if err != nil {
		return tenancy.Tenant{}, err
	}
	if dec == tenancy.Allowed || dec == tenancy.Forbidden {
		c.Locals(localTenantRole, tenantRole{tenant: id, role: role})
	}
	if err := dec.Err(); err != nil {
		return tenancy.Tenant{}, s.auditDenied(c, "tenant", id.String(), err)
	}
	return t, nil
}

// canStart reports whether the caller's role on tenantID may start runs of typ and a
// worker runs them (a page offers no button that cannot run).
func (s *Server) canStart(c *fiber.Ctx, tenantID uuid.UUID, typ string) (bool, error) {
	info, ok := operations.LookupType(typ)
	if !ok || !s.deps.Operations.Runnable(typ) {
		return false, nil
	}
	role, ok, err := s.roleFor(c, tenantID)
	if err != nil || !ok {
		return false, err
	}
	return role.Can(info.StartCapability), nil
}

// localTenantRole keeps the user's role on the request's tenant, as authorizedTenant
// found it, for the rest of the request.
const localTenantRole = "atlas.tenantRole"

// tenantRole is the user's effective role on a tenant.
type tenantRole struct {
	tenant uuid.UUID
	role   tenancy.Role
}

// roleFor is tenancy.RoleFor for the request's user, answered without a query when
// authorizedTenant has already read the role on tenantID in this request.
func (s *Server) roleFor(c *fiber.Ctx, tenantID uuid.UUID) (tenancy.Role, bool, error) {
	if tr, ok := c.Locals(localTenantRole).(tenantRole); ok && tr.tenant == tenantID {
		return tr.role, true, nil
	}
	return s.deps.Tenancy.RoleFor(c.UserContext(), currentUser(c).ID, tenantID)
}

// notInTenant is the answer for an object id that exists but belongs to another tenant
// than the URL's: the same 404 as an unknown id.
func notInTenant() error { return fiber.NewError(fiber.StatusNotFound, "not found") }

// restrictToVisible limits a run filter to what userID may view: runs of tenants where
// the user has operations.view, and workspace-scoped runs of workspaces where the user
// is a workspace-level member with it.
func (s *Server) restrictToVisible(c *fiber.Ctx, f *projections.RunFilter) error {
	ctx, userID := c.UserContext(), currentUser(c).ID
	var err error
	if f.TenantIDs, err = s.visibleTenants(c); err != nil {
		return err
	}
	if f.WorkspaceIDs, err = s.deps.Tenancy.VisibleWorkspaces(ctx, userID, tenancy.CapOperationsView); err != nil {
		return err
	}
	if f.Workspaces, err = s.deps.Tenancy.MemberWorkspaces(ctx, userID); err != nil {
		return err
	}
	// A user who sees everything in each of their workspaces (an MSP's owner) lists them
	// without testing each run against the visible tenants.
	whole, err := s.deps.Tenancy.WholeWorkspaces(ctx, userID, tenancy.CapOperationsView)
	f.SetWholeWorkspaces(whole)
	return err
}

// localVisibleTenants caches visibleTenants for the rest of a request.
const localVisibleTenants = "atlas.visibleTenants"

// visibleTenants is the ids of the tenants the request's user may view (operations.view),
// asked once per request: a page's list and its layout's switcher share the answer.
func (s *Server) visibleTenants(c *fiber.Ctx) ([]uuid.UUID, error) {
	if ids, ok := c.Locals(localVisibleTenants).([]uuid.UUID); ok {
		return ids, nil
	}
	ids, err := s.deps.Tenancy.VisibleTenants(c.UserContext(), currentUser(c).ID, tenancy.CapOperationsView)
	if err != nil {
		return nil, err
	}
	c.Locals(localVisibleTenants, ids)
	return ids, nil
}
