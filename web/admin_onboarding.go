package web

import (
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/onboarding"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// onboardingStep is one bootstrap operation as the session page lists it.
type onboardingStep struct {
	Type, Label string
	Selectable  bool // offered in the bootstrap form (runnable, start capability held)
}

// onboardingPage is the data of the onboarding template.
type onboardingPage struct {
	Tenant     tenancy.Tenant
	Session    onboarding.Session
	Connection connectionView
	// Verification is the session's last verification run (nil: none yet).
	Verification *operations.Run
	// CanVerify shows "Start verification"; Refreshing shows "Refresh" instead (a run is active).
	CanVerify, Refreshing bool
	VerifyAction          string
	// CanBootstrap: the member may start the bootstrap (provider.manage).
	CanBootstrap    bool
	BootstrapAction string
	Steps           []onboardingStep
	// Outcome is the bootstrap's state as of this page load (after Advance).
	Outcome      *onboarding.BootstrapOutcome
	AdmittedRuns []uuid.UUID
}

// handleAdminOnboardingNew creates an onboarding session (POST /admin/onboarding): the
// tenant (name, Entra tenant id) and its provider connection (client id, secret
// reference, optional Graph base URL) in a workspace where the user holds
// provider.manage (owner, manager): the form's workspace, else the user's first such.
func (s *Server) handleAdminOnboardingNew(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := currentUser(c)
	var ws uuid.UUID
	if raw := c.FormValue("workspace"); raw != "" {
		id, err := parseID(raw)
		if err != nil {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "workspace: not a valid id")
		}
		dec, err := s.deps.Tenancy.AuthorizeWorkspace(ctx, u.ID, id, tenancy.CapProviderManage)
		if err != nil {
			return err
		}
		if err := dec.Err(); err != nil {
			return err
		}
		ws = id
	} else {
		wss, err := s.onboardingWorkspaces(c)
		if err != nil {
			return err
		}
		ws = wss[0]
	}
	sess, err := s.deps.Onboarding.Create(ctx, u.ID, onboarding.NewTenant{WorkspaceID: ws, TenantName: c.FormValue("tenant_name"),
		EntraTenantID: c.FormValue("entra_tenant_id"), ClientID: c.FormValue("client_id"), SecretRef: c.FormValue("secret_ref"),
		GraphBaseURL: c.FormValue("graph_base_url")})
	switch {
	case errors.Is(err, tenancy.ErrInvalid), errors.Is(err, tenancy.ErrConflict):
		msg := err.Error() // names the field; never holds a secret reference's value
		for _, prefix := range []string{"onboarding: create: ", "tenancy: add tenant: ", "tenancy: add provider connection: "} {
			msg = strings.TrimPrefix(msg, prefix)
		}
		return fiber.NewError(fiber.StatusUnprocessableEntity, operations.Sanitize(msg))
	case err != nil:
		return err
	}
	return c.Redirect("/admin/onboarding/"+sess.ID.String(), fiber.StatusSeeOther)
}

// onboardingSession reads :session and authorizes the caller on its tenant with
// capability: unknown or not a member 404, a member lacking it 403.
func (s *Server) onboardingSession(c *fiber.Ctx, capability tenancy.Capability) (onboarding.Session, tenancy.Tenant, error) {
	id, err := paramUUID(c, "session")
	if err != nil {
		return onboarding.Session{}, tenancy.Tenant{}, err
	}
	ctx := c.UserContext()
	sess, err := s.deps.Onboarding.Session(ctx, id)
	if errors.Is(err, onboarding.ErrNotFound) {
		return onboarding.Session{}, tenancy.Tenant{}, notInTenant()
	}
	if err != nil {
		return onboarding.Session{}, tenancy.Tenant{}, err
	}
	t, dec, err := s.deps.Tenancy.Authorize(ctx, currentUser(c).ID, sess.TenantID, capability)
	if err != nil {
		return onboarding.Session{}, tenancy.Tenant{}, err
	}
	if err := dec.Err(); err != nil {
		return onboarding.Session{}, tenancy.Tenant{}, err
	}
	return sess, t, nil
}

// handleAdminOnboarding shows a session: the connection, its verification ("Start
// verification" or, while a run is active, "Refresh") and the bootstrap. A load by a
// member who may bootstrap admits the next pending operation once the previous ended.
func (s *Server) handleAdminOnboarding(c *fiber.Ctx) error {
	sess, t, err := s.onboardingSession(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	u := currentUser(c)
	pc, err := s.deps.Tenancy.Connection(ctx, sess.ConnectionID)
	if err != nil {
		return err
	}
	data := onboardingPage{Tenant: t, Session: sess, Connection: connectionViewOf(pc),
		VerifyAction:    "/admin/onboarding/" + sess.ID.String() + "/provider-actions/" + onboarding.TypeVerify + "/start",
		BootstrapAction: "/admin/onboarding/" + sess.ID.String() + "/provider-bootstrap/start"}
	run, free, err := s.deps.Onboarding.Verification(ctx, sess)
	if err != nil {
		return err
	}
	data.Verification = run
	mayVerify, err := s.canStart(c, t.ID, onboarding.TypeVerify)
	if err != nil {
		return err
	}
	data.CanVerify, data.Refreshing = mayVerify && free, !free
	_, dec, err := s.deps.Tenancy.Authorize(ctx, u.ID, t.ID, tenancy.CapProviderManage)
	if err != nil {
		return err
	}
	data.CanBootstrap = dec == tenancy.Allowed
	for _, typ := range onboarding.BootstrapTypes {
		ok, err := s.canStart(c, t.ID, typ)
		if err != nil {
			return err
		}
		if !s.deps.Operations.Runnable(typ) {
			continue // never offer or list what cannot run
		}
		verb, target := operations.OperatorWords(typ)
		data.Steps = append(data.Steps, onboardingStep{Type: typ, Label: verb + " " + target, Selectable: ok && data.CanBootstrap})
	}
	if data.CanBootstrap && sess.Bootstrapping() {
		out, err := s.deps.Onboarding.Advance(ctx, sess.ID, initiatorOf(c, u.ID, u.Email))
		if err != nil {
			return err
		}
		data.Outcome = &out
		if sess, err = s.deps.Onboarding.Session(ctx, sess.ID); err != nil {
			return err
		}
		data.Session = sess
	}
	data.AdmittedRuns = data.Session.AdmittedRuns
	return s.render(c, fiber.StatusOK, "onboarding", page{Title: t.Name + " · Onboarding", Nav: "connections", Tenant: &t, Data: data})
}

// handleAdminOnboardingVerify starts the session's verification
// (POST /admin/onboarding/{session}/provider-actions/{operation}/start; only
// provider.verify): non-member 404, a member without provider.verify 403 (the gate).
func (s *Server) handleAdminOnboardingVerify(c *fiber.Ctx) error {
	op, err := paramText(c, "operation", 100)
	if err != nil {
		return err
	}
	sess, _, err := s.onboardingSession(c, tenancy.CapProviderVerify)
	if err != nil {
		return err
	}
	if op != onboarding.TypeVerify {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "an onboarding session starts only provider.verify here")
	}
	if err := s.deps.Operations.CheckStart(op, operations.SurfaceOnboarding); err != nil {
		return err
	}
	ctx := c.UserContext()
	_, free, err := s.deps.Onboarding.Verification(ctx, sess)
	if err != nil {
		return err
	}
	back := "/admin/onboarding/" + sess.ID.String()
	if !free {
		return c.Redirect(back, fiber.StatusSeeOther) // a verification is running: the page shows "Refresh"
	}
	u := currentUser(c)
	out, err := s.deps.Onboarding.StartVerification(ctx, sess, initiatorOf(c, u.ID, u.Email))
	if err != nil {
		return err
	}
	s.setFlash(c, flashOf(out))
	return c.Redirect(back, fiber.StatusSeeOther)
}

// handleAdminOnboardingBootstrap starts the bootstrap with the selected operations
// (form values "operation"), or, once started, admits the next one if the previous
// ended (POST /admin/onboarding/{session}/provider-bootstrap/start). Non-member 404,
// a member without provider.manage 403. With Accept: application/json the answer is the
// OnboardingBootstrapStartOutcome (acceptedOperation, pendingOperations).
func (s *Server) handleAdminOnboardingBootstrap(c *fiber.Ctx) error {
	sess, _, err := s.onboardingSession(c, tenancy.CapProviderManage)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	u := currentUser(c)
	who := initiatorOf(c, u.ID, u.Email)
	var out onboarding.BootstrapOutcome
	if sess.Bootstrapping() {
		out, err = s.deps.Onboarding.Advance(ctx, sess.ID, who)
	} else {
		var selected []string
		for _, v := range c.Request().PostArgs().PeekMulti("operation") {
			selected = append(selected, string(v))
		}
		for _, typ := range selected {
			if !slices.Contains(onboarding.BootstrapTypes, typ) {
				return fiber.NewError(fiber.StatusUnprocessableEntity, "operation: not a bootstrap operation")
			}
			if err := s.deps.Operations.CheckStart(typ, operations.SurfaceOnboarding); err != nil {
				return err
			}
		}
		out, err = s.deps.Onboarding.StartBootstrap(ctx, sess.ID, selected, who)
	}
	if errors.Is(err, onboarding.ErrInvalid) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "operation: select at least one runnable bootstrap operation")
	}
	if err != nil {
		return err
	}
	if strings.Contains(c.Get(fiber.HeaderAccept), "application/json") {
		return c.JSON(out)
	}
	if out.Status != "" {
		s.setFlash(c, flashOf(out.StartOutcome))
	}
	return c.Redirect("/admin/onboarding/"+sess.ID.String(), fiber.StatusSeeOther)
}

// onboardingNewPage is the data of the onboarding_new template.
type onboardingNewPage struct {
	Workspaces []tenancy.Workspace
}

// handleAdminOnboardingForm is the form creating a session (GET /admin/onboarding): the
// workspaces where the user holds provider.manage (none: 403 for a member, 404 else).
func (s *Server) handleAdminOnboardingForm(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ids, err := s.onboardingWorkspaces(c)
	if err != nil {
		return err
	}
	var data onboardingNewPage
	for _, id := range ids {
		ws, err := s.deps.Tenancy.Workspace(ctx, id)
		if err != nil {
			return err
		}
		data.Workspaces = append(data.Workspaces, ws)
	}
	return s.render(c, fiber.StatusOK, "onboarding_new", page{Title: "Onboard a tenant", Nav: "tenants", Data: data})
}

// onboardingWorkspaces are the workspaces where the signed-in user holds provider.manage
// (at least one); none is a 403 for a member of some workspace and a 404 for anyone else.
func (s *Server) onboardingWorkspaces(c *fiber.Ctx) ([]uuid.UUID, error) {
	ctx, u := c.UserContext(), currentUser(c)
	ids, err := s.deps.Tenancy.VisibleWorkspaces(ctx, u.ID, tenancy.CapProviderManage)
	if err != nil || len(ids) > 0 {
		return ids, err
	}
	member, err := s.deps.Tenancy.MemberWorkspaces(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(member) == 0 {
		return nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return nil, fiber.NewError(fiber.StatusForbidden, "forbidden")
}
