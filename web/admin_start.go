package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
)

// handleAdminStart starts a run from the tenant page's start form and goes back to the
// page with the gate's answer as a flash message.
func (s *Server) handleAdminStart(c *fiber.Ctx) error {
	tenantID, err := paramUUID(c, "tenant")
	if err != nil {
		return s.auditDenied(c, "tenant", c.Params("tenant"), err)
	}
	// The form offers only runnable types started from it; a forged type is refused.
	if err := s.deps.Operations.CheckStart(c.FormValue("type"), operations.SurfaceStartForm); err != nil {
		return err
	}
	return s.startFromHub(c, tenantID, c.FormValue("type"), "/admin/t/"+tenantID.String()+"/operations")
}

// startFromHub asks the start gate for a run of typ on tenantID as the signed-in user
// (the gate authorizes: 404 for a non-member, 403 without the type's start
// capability), stores its answer as a flash message with the View-run link and
// redirects to back.
func (s *Server) startFromHub(c *fiber.Ctx, tenantID uuid.UUID, typ, back string) error {
	u := currentUser(c)
	out, err := s.deps.Operations.Start(c.UserContext(), operations.StartRequest{
		Type:          typ,
		TenantID:      tenantID,
		Initiator:     initiatorOf(c, u.ID, u.Email),
		SourceSurface: "web",
	})
	if err != nil {
		return err
	}
	f := flash{Kind: "info", Message: out.OperatorMessage}
	switch out.Status {
	case operations.StartAccepted, operations.StartDeduped:
		f.Kind = "success"
	case operations.StartBlocked, operations.StartScopeBusy:
		f.Kind = "warning"
	}
	if f.Message == "" {
		f.Message = "The start request was answered: " + string(out.Status) + "."
	}
	if out.Run != nil {
		f.Href = out.Run.URL
	}
	s.setFlash(c, f)
	return c.Redirect(back, fiber.StatusSeeOther)
}
