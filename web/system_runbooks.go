package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// runbooksPage is the data of system_runbooks.html: the catalog, the scopes a runbook
// may be run over, and after a preflight its figures and the run form.
type runbooksPage struct {
	Runbooks    []runbooks.Runbook
	Scopes      []scopeGroup
	ReasonCodes []string
	// Selected is the runbook and scope of the preflight (or run attempt) shown.
	Selected      string
	SelectedScope string
	ScopeLabel    string
	Preflight     *runbooks.Preflight
	// CanRun: the user may run Selected (platform.runbooks.run + its capability).
	CanRun bool
	// NeedsReason: a reason is required (all tenants, or a break-glass user).
	NeedsReason bool
	// Reason echoes the form after a refused run.
	ReasonCode, ReasonText string
	// Error is a refused run's 422 message; Outcome a start the gate did not accept.
	Error   string
	Outcome *operations.StartOutcome
}

// scopeGroup is one workspace's scopes in the picker: all its tenants, or one of them.
type scopeGroup struct {
	Workspace tenancy.Workspace
	Tenants   []tenancy.Tenant
}

// parseScopeValue reads a picker value: "all:<workspace id>" or "tenant:<tenant id>".
func parseScopeValue(raw string) (runbooks.Scope, error) {
	kind, id, _ := strings.Cut(raw, ":")
	parsed, err := parseID(id)
	if err != nil || (kind != "all" && kind != "tenant") {
		return runbooks.Scope{}, fiber.NewError(fiber.StatusUnprocessableEntity, "scope: pick all tenants of a workspace or one tenant.")
	}
	if kind == "all" {
		return runbooks.Scope{All: true, WorkspaceID: parsed}, nil
	}
	return runbooks.Scope{TenantID: parsed}, nil
}

// runbookOf reads the :runbook parameter: an unknown key is a 404.
func (s *Server) runbookOf(c *fiber.Ctx) (runbooks.Runbook, error) {
	if s.deps.Runbooks == nil {
		return runbooks.Runbook{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	key, err := paramText(c, "runbook", 100)
	if err != nil {
		return runbooks.Runbook{}, err
	}
	rb, err := runbooks.Lookup(key)
	if err != nil {
		return runbooks.Runbook{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return rb, nil
}

// runbooksData is the catalog page's data before any preflight.
func (s *Server) runbooksData(c *fiber.Ctx) (runbooksPage, error) {
	if s.deps.Runbooks == nil {
		return runbooksPage{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	ctx := c.UserContext()
	wss, err := s.deps.Tenancy.Workspaces(ctx)
	if err != nil {
		return runbooksPage{}, err
	}
	d := runbooksPage{Runbooks: runbooks.Catalog(), ReasonCodes: runbooks.ReasonCodes}
	for _, w := range wss {
		ts, err := s.deps.Tenancy.TenantsOf(ctx, w.ID)
		if err != nil {
			return runbooksPage{}, err
		}
		if len(ts) > 0 { // the runbook touches tenants: a workspace without any offers nothing
			d.Scopes = append(d.Scopes, scopeGroup{Workspace: w, Tenants: ts})
		}
	}
	return d, nil
}

// scopeLabel names a scope value for the page.
func (d runbooksPage) scopeLabel(v string) string {
	for _, g := range d.Scopes {
		if v == "all:"+g.Workspace.ID.String() {
			return "All tenants of " + g.Workspace.Name
		}
		for _, t := range g.Tenants {
			if v == "tenant:"+t.ID.String() {
				return t.Name + " (" + g.Workspace.Name + ")"
			}
		}
	}
	return v
}

// handleSystemRunbooks is /system/ops/runbooks: the catalog and the preflight form.
func (s *Server) handleSystemRunbooks(c *fiber.Ctx) error {
	d, err := s.runbooksData(c)
	if err != nil {
		return err
	}
	return s.renderSystem(c, fiber.StatusOK, "system_runbooks", systemPage{Title: "Runbooks", Nav: "runbooks", Data: d})
}

// systemOrigin is the runbook caller of a /system request.
func systemOrigin(c *fiber.Ctx) runbooks.Origin {
	return runbooks.Origin{User: currentPlatformUser(c), IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent), Source: "system"}
}

// runbookForm is a runbook form's runbook, its picked scope and the origin of the
// platform user's request.
func (s *Server) runbookForm(c *fiber.Ctx) (runbooks.Runbook, runbooks.Scope, runbooks.Origin, error) {
	rb, err := s.runbookOf(c)
	if err != nil {
		return rb, runbooks.Scope{}, runbooks.Origin{}, err
	}
	sc, err := parseScopeValue(c.FormValue("scope"))
	if err != nil {
		return rb, sc, runbooks.Origin{}, err
	}
	return rb, sc, systemOrigin(c), nil
}

// handleSystemRunbookPreflight runs the preflight of a runbook over the picked scope
// (audited) and shows its figures with the run form.
func (s *Server) handleSystemRunbookPreflight(c *fiber.Ctx) error {
	rb, sc, o, err := s.runbookForm(c)
	if err != nil {
		return err
	}
	d, err := s.runbooksData(c)
	if err != nil {
		return err
	}
	pf, _, err := s.deps.Runbooks.Preflight(c.UserContext(), rb.Key, sc, o)
	if err != nil {
		return runbookError(err)
	}
	d.Selected, d.SelectedScope, d.Preflight = rb.Key, c.FormValue("scope"), &pf
	d.fill(o.User, rb, sc)
	return s.renderSystem(c, fiber.StatusOK, "system_runbooks", systemPage{Title: "Runbooks · Preflight", Nav: "runbooks", Data: d})
}

// fill sets what the run form needs to know about the user and scope.
func (d *runbooksPage) fill(u tenancy.PlatformUser, rb runbooks.Runbook, sc runbooks.Scope) {
	d.ScopeLabel = d.scopeLabel(d.SelectedScope)
	d.CanRun = u.Can(tenancy.PlatformRunbooksRun) && u.Can(rb.Capability)
	d.NeedsReason = sc.All || u.BreakGlass
}

// handleSystemRunbookRun starts a runbook with the typed confirmation and the reason:
// accepted goes to the run's page; a refused form (422) or a start the gate did not
// accept (scope busy, deduped, blocked) shows the page again with the answer.
func (s *Server) handleSystemRunbookRun(c *fiber.Ctx) error {
	rb, sc, o, err := s.runbookForm(c)
	if err != nil {
		return err
	}
	out, err := s.deps.Runbooks.Start(c.UserContext(), runbooks.StartRequest{Key: rb.Key, Scope: sc,
		ReasonCode: c.FormValue("reasonCode"), ReasonText: c.FormValue("reasonText"), Confirm: c.FormValue("confirm")}, o)
	if err == nil && out.Status == operations.StartAccepted {
		return c.Redirect(out.Run.URL, fiber.StatusSeeOther)
	}
	if err != nil && !errors.Is(err, runbooks.ErrInvalid) {
		return runbookError(err)
	}
	d, derr := s.runbooksData(c)
	if derr != nil {
		return derr
	}
	d.Selected, d.SelectedScope = rb.Key, c.FormValue("scope")
	d.ReasonCode, d.ReasonText = c.FormValue("reasonCode"), c.FormValue("reasonText")
	d.fill(o.User, rb, sc)
	status := fiber.StatusOK
	if err != nil {
		status, d.Error = fiber.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), runbooks.ErrInvalid.Error()+": ")
	} else {
		d.Outcome = &out
	}
	return s.renderSystem(c, status, "system_runbooks", systemPage{Title: "Runbooks", Nav: "runbooks", Data: d})
}

// runbookError maps the runbooks module's errors to the panel's answers.
func runbookError(err error) error {
	switch {
	case errors.Is(err, runbooks.ErrUnknownRunbook):
		return fiber.NewError(fiber.StatusNotFound, "not found")
	case errors.Is(err, runbooks.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "forbidden")
	case errors.Is(err, runbooks.ErrInvalid):
		return fiber.NewError(fiber.StatusUnprocessableEntity, operations.Sanitize(strings.TrimPrefix(err.Error(), runbooks.ErrInvalid.Error()+": ")))
	}
	return err
}
