package web

import (
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/alerts"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// alertsPage is the data of the alerts template.
type alertsPage struct {
	Rules      []alerts.Rule
	Deliveries []alerts.Delivery
	// The create form: its choices, what was entered (never the secret) and each bad field.
	EventTypes []string
	RunTypes   []operations.TypeInfo
	Tenants    []tenancy.Tenant
	TenantName map[uuid.UUID]string
	Form       alertForm
	Errors     map[string]string
}

// alertForm is what the create form holds when it is shown again after a bad field.
type alertForm struct {
	Events  []string
	URL     string
	Types   []string
	Tenants []string
}

// Has reports whether a multi-value field holds v (for checked boxes and selections).
func (f alertForm) Has(field, v string) bool {
	switch field {
	case "events":
		return slices.Contains(f.Events, v)
	case "types":
		return slices.Contains(f.Types, v)
	case "tenants":
		return slices.Contains(f.Tenants, v)
	}
	return false
}

// handleAdminAlerts shows the alert rules and recent deliveries (with every attempt) of
// the workspaces the user owns, and the form creating a rule. Owners only: other
// members get 403, users of no workspace 404.
func (s *Server) handleAdminAlerts(c *fiber.Ctx) error {
	return s.renderAlerts(c, fiber.StatusOK, alertForm{Events: []string{alerts.EventRunFailed}}, nil)
}

func (s *Server) renderAlerts(c *fiber.Ctx, status int, form alertForm, bad map[string]string) error {
	if s.deps.Alerts == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	ctx := c.UserContext()
	u := currentUser(c)
	rules, err := s.deps.Alerts.Rules(ctx, u.ID)
	if err != nil {
		return alertsError(err)
	}
	ds, err := s.deps.Alerts.Deliveries(ctx, u.ID, 50)
	if err != nil {
		return alertsError(err)
	}
	ids, err := s.deps.Tenancy.VisibleTenants(ctx, u.ID, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	tenants, err := s.deps.Tenancy.TenantsByID(ctx, ids)
	if err != nil {
		return err
	}
	names := make(map[uuid.UUID]string, len(tenants))
	for _, t := range tenants {
		names[t.ID] = t.Name
	}
	data := alertsPage{Rules: rules, Deliveries: ds, EventTypes: alerts.EventTypes(), RunTypes: operations.Types(),
		Tenants: tenants, TenantName: names, Form: form, Errors: bad}
	return s.render(c, status, "alerts", page{Title: "Alerts", Nav: "alerts", Data: data})
}

// handleAdminAlertCreate creates a rule from the form: back to the page with a flash, or
// the page again (422) naming each bad field, the secret never echoed.
func (s *Server) handleAdminAlertCreate(c *fiber.Ctx) error {
	if s.deps.Alerts == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	u := currentUser(c)
	if err := s.deps.Alerts.Authorize(c.UserContext(), u.ID); err != nil {
		return alertsError(err)
	}
	form := alertForm{URL: c.FormValue("url")}
	args := c.Request().PostArgs()
	for _, v := range args.PeekMulti("events") {
		form.Events = append(form.Events, string(v))
	}
	for _, v := range args.PeekMulti("types") {
		form.Types = append(form.Types, string(v))
	}
	for _, v := range args.PeekMulti("tenants") {
		form.Tenants = append(form.Tenants, string(v))
	}
	in, err := alertRuleBody{Events: form.Events, URL: form.URL, Types: form.Types, Tenants: form.Tenants,
		Secret: c.FormValue("secret")}.newRule()
	if err == nil {
		ua := c.Get(fiber.HeaderUserAgent)
		if len(ua) > 200 {
			ua = ua[:200]
		}
		_, err = s.deps.Alerts.CreateRule(c.UserContext(), alerts.Actor{UserID: u.ID, IP: c.IP(), UserAgent: ua}, in)
	}
	var ve *alerts.ValidationError
	if errors.As(err, &ve) {
		return s.renderAlerts(c, fiber.StatusUnprocessableEntity, form, ve.Fields)
	}
	if err != nil {
		return alertsError(err)
	}
	s.setFlash(c, flash{Kind: "success", Message: "Alert rule created. Its secret is stored and will not be shown again."})
	return c.Redirect("/admin/alerts", fiber.StatusSeeOther)
}
