package web

import (
	"context"

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
	id, err := uuid.Parse(c.Params("run"))
	if err != nil {
		return nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return s.deps.Operations.AuthorizeView(c.UserContext(), currentUser(c).ID, id)
}

// restrictToVisible limits a run filter to what userID may view: runs of tenants where
// the user has operations.view, and workspace-scoped runs of workspaces where the user
// is a workspace-level member with it.
func (s *Server) restrictToVisible(ctx context.Context, userID uuid.UUID, f *projections.RunFilter) error {
	var err error
	if f.TenantIDs, err = s.deps.Tenancy.VisibleTenants(ctx, userID, tenancy.CapOperationsView); err != nil {
		return err
	}
	if f.WorkspaceIDs, err = s.deps.Tenancy.VisibleWorkspaces(ctx, userID, tenancy.CapOperationsView); err != nil {
		return err
	}
	f.Workspaces, err = s.deps.Tenancy.MemberWorkspaces(ctx, userID)
	return err
}
