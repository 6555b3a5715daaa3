package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
)

// handleAdminStart starts a run from the tenant page's start form and goes back to the
// page with the gate's answer as a flash message.
func (s *Server) handleAdminStart(c *fiber.Ctx) error {
	tenantID, err := uuid.Parse(c.Params("tenant"))
	if err != nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	u := currentUser(c)
	out, err := s.deps.Operations.Start(c.UserContext(), operations.StartRequest{
		Type:          c.FormValue("type"),
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
		f.Message = "The start request was answered: " + out.Status + "."
	}
	if out.Run != nil {
		f.Href = out.Run.URL
	}
	s.setFlash(c, f)
	return c.Redirect("/admin/t/"+tenantID.String()+"/operations", fiber.StatusSeeOther)
}
