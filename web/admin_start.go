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
	s.setFlash(c, flashOf(out))
	return c.Redirect(back, fiber.StatusSeeOther)
}

// flashOf is the flash message of a start: the gate's whole answer (spec 216's
// ProviderStartOutcome: verb and target, message, short reason, provider connection,
// actions), coloured by its status.
func flashOf(out operations.StartOutcome) flash {
	f := flash{Kind: "info", Message: out.OperatorMessage, Verb: out.OperatorVerb, Target: out.OperatorTarget}
	switch out.Status {
	case operations.StartAccepted, operations.StartDeduped:
		f.Kind = "success"
	case operations.StartBlocked, operations.StartScopeBusy:
		f.Kind = "warning"
	}
	if f.Message == "" {
		f.Message = "The start request was answered: " + string(out.Status) + "."
	}
	if out.Status != operations.StartAccepted {
		f.Reason = out.ShortReason
	}
	if out.Run != nil {
		f.Href = out.Run.URL
	}
	if out.ProviderConnection != nil {
		f.Connection = out.ProviderConnection.Label
	}
	for _, a := range out.Actions {
		f.Actions = append(f.Actions, flashAction{Label: a.Label, Href: a.Href})
	}
	return f
}
