package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/alerts"
)

// alertsError maps the alerts module's errors to answers: a member of no workspace
// 404, a member without workspace.manage 403, a bad rule 422 naming each bad field.
func alertsError(err error) error {
	var ve *alerts.ValidationError
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "not found")
	case errors.Is(err, alerts.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "Only a workspace owner manages alerts.")
	case errors.As(err, &ve):
		return fiber.NewError(fiber.StatusUnprocessableEntity, ve.Error())
	}
	return err
}

// alertRuleView is a rule as the API shows it: the module's shape (never its secret)
// with createdAt in UTC at microsecond precision.
type alertRuleView struct {
	alerts.Rule
	CreatedAt string `json:"createdAt"`
}

func ruleView(r alerts.Rule) alertRuleView {
	return alertRuleView{Rule: r, CreatedAt: r.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00")}
}

// alertRuleBody is the body of POST /api/v1/alert-rules.
type alertRuleBody struct {
	WorkspaceID string   `json:"workspaceId"`
	Events      []string `json:"events"`
	URL         string   `json:"url"`
	Types       []string `json:"types"`
	Tenants     []string `json:"tenants"`
	Secret      string   `json:"secret"`
}

// newRule turns the body into a NewRule; malformed ids are named like any bad field.
func (b alertRuleBody) newRule() (alerts.NewRule, error) {
	r := alerts.NewRule{Events: b.Events, URL: b.URL, Types: b.Types, Secret: b.Secret}
	bad := map[string]string{}
	if b.WorkspaceID != "" {
		id, err := parseID(b.WorkspaceID)
		if err != nil {
			bad["workspaceId"] = "must be a UUID"
		}
		r.WorkspaceID = id
	}
	for _, t := range b.Tenants {
		id, err := parseID(t)
		if err != nil {
			bad["tenants"] = "each must be a tenant's UUID"
			break
		}
		r.Tenants = append(r.Tenants, id)
	}
	if len(bad) > 0 {
		return r, &alerts.ValidationError{Fields: bad}
	}
	return r, nil
}

// readAlertRuleBody decodes the body of POST /api/v1/alert-rules into a NewRule: not a
// single JSON object of alertRuleBody's fields is a 422 (naming an unknown field), a
// malformed id a ValidationError naming it (alertsError answers it). The alerts module
// checks the rest (events, url, types, secret).
func readAlertRuleBody(raw []byte) (alerts.NewRule, error) {
	var body alertRuleBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		msg := "body: a JSON object {\"events\",\"url\",\"types\",\"tenants\",\"secret\"} is expected"
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			msg = strings.Trim(f, `"`) + ": unknown field"
			if len(msg) > 80 {
				msg = "body: unknown field"
			}
		}
		return alerts.NewRule{}, fiber.NewError(fiber.StatusUnprocessableEntity, msg)
	}
	if !atEOF(dec) {
		return alerts.NewRule{}, fiber.NewError(fiber.StatusUnprocessableEntity, "body: a JSON object {\"events\",\"url\",\"types\",\"tenants\",\"secret\"} is expected")
	}
	return body.newRule()
}

// handleAPIAlertRuleCreate creates a workspace alert rule (owners only); the answer is
// the rule without its secret.
func (s *Server) handleAPIAlertRuleCreate(c *fiber.Ctx) error {
	if s.deps.Alerts == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	u := currentUser(c)
	// Authorize before reading the body: a non-owner learns nothing about its checks.
	if err := s.deps.Alerts.Authorize(c.UserContext(), u.ID); err != nil {
		return alertsError(err)
	}
	in, err := readAlertRuleBody(c.Body())
	if err != nil {
		return alertsError(err)
	}
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > 200 {
		ua = ua[:200]
	}
	r, err := s.deps.Alerts.CreateRule(c.UserContext(), alerts.Actor{UserID: u.ID, IP: c.IP(), UserAgent: ua}, in)
	if err != nil {
		return alertsError(err)
	}
	return c.JSON(ruleView(r))
}

// handleAPIAlertRules lists the rules of the workspaces the caller owns (never a secret).
func (s *Server) handleAPIAlertRules(c *fiber.Ctx) error {
	if s.deps.Alerts == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	rules, err := s.deps.Alerts.Rules(c.UserContext(), currentUser(c).ID)
	if err != nil {
		return alertsError(err)
	}
	out := make([]alertRuleView, len(rules))
	for i, r := range rules {
		out[i] = ruleView(r)
	}
	return c.JSON(fiber.Map{"rules": out})
}

// handleAPIAlertDeliveries lists the newest deliveries of the caller's workspaces with
// every attempt (?limit=, 50 by default).
func (s *Server) handleAPIAlertDeliveries(c *fiber.Ctx) error {
	if s.deps.Alerts == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	ds, err := s.deps.Alerts.Deliveries(c.UserContext(), currentUser(c).ID, limit)
	if err != nil {
		return alertsError(err)
	}
	return c.JSON(fiber.Map{"deliveries": ds})
}
