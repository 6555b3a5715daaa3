package operations

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// ConnectionRef names the provider connection a start or a run uses (spec 216's
// ProviderConnectionContext): never its secret reference or endpoint.
type ConnectionRef struct {
	// ID is the connection's id.
	ID uuid.UUID `json:"id"`
	// Provider is "microsoft".
	Provider string `json:"provider"`
	// Label is the connection's display name.
	Label string `json:"label"`
}

// ActionLink is one thing the operator can do after a start: open the run, open the
// provider connection (spec 216's ActionLink).
type ActionLink struct {
	// Label is what the link says.
	Label string `json:"label"`
	// Href is a hub page.
	Href string `json:"href"`
	// Kind names what it opens: "run" or "provider_connection".
	Kind string `json:"kind,omitempty"`
}

// ConnectionURL is the hub page of a tenant's provider connection.
func ConnectionURL(tenant, conn uuid.UUID) string {
	return "/admin/t/" + tenant.String() + "/provider-connections/" + conn.String()
}

// operatorWords are each type's verb and the object it acts on, as the start outcome
// names them ("Verify" "provider connection").
var operatorWords = map[string][2]string{
	"inventory.sync":                  {"Sync", "inventory"},
	"directory.groups.sync":           {"Sync", "directory groups"},
	"directory.role_definitions.sync": {"Sync", "role definitions"},
	"drift.generate":                  {"Generate", "drift findings"},
	"provider.verify":                 {"Verify", "provider connection"},
	"backup_set.add_policies":         {"Back up", "policies into a backup set"},
	"backup_schedule.run_now":         {"Run", "backup schedule"},
	"backup_schedule.retry":           {"Retry", "backup schedule"},
	"backup_schedule.scheduled":       {"Run", "scheduled backup"},
	"restore.execute":                 {"Execute", "restore"},
	"findings.lifecycle.backfill":     {"Backfill", "findings lifecycle"},
}

// OperatorWords are the verb and target a start of runType is described with.
func OperatorWords(runType string) (verb, target string) {
	w, ok := operatorWords[runType]
	if !ok {
		return "Start", runType
	}
	return w[0], w[1]
}

// Start is the start gate: the only way to start a run, from every surface. It
// authorizes a user initiator (ErrNotFound / ErrForbidden: nothing is created),
// validates the request (ErrUnknownType / ErrInvalidContext) and answers accepted,
// deduped, scope_busy or blocked, as the whole ProviderStartOutcome of spec 216: the
// gate's answer plus the operator's verb and target, the provider connection the start
// is on (provider-backed types) and the actions (the run, the connection's page). It
// never does remote work.
func (s *Service) Start(ctx context.Context, req StartRequest) (StartOutcome, error) {
	out, err := s.gate(ctx, req)
	if err != nil {
		return out, err
	}
	s.describe(ctx, req, &out)
	return out, nil
}

// describe fills the outcome's verb, target, connection and actions. The run is
// recorded by now, so a failed connection lookup leaves the connection out (logged)
// rather than failing the answer.
func (s *Service) describe(ctx context.Context, req StartRequest, out *StartOutcome) {
	out.OperatorVerb, out.OperatorTarget = OperatorWords(req.Type)
	out.Actions = []ActionLink{}
	if out.Run != nil {
		out.Actions = append(out.Actions, ActionLink{Label: "View run", Href: out.Run.URL, Kind: "run"})
	}
	info, ok := LookupType(req.Type)
	if !ok || !info.ProviderBacked || req.TenantID == uuid.Nil {
		return
	}
	conn, err := s.startConnection(ctx, req)
	if err != nil {
		if !errors.Is(err, tenancy.ErrNotFound) {
			s.log.Warn("start outcome: provider connection lookup failed", "type", req.Type, "error", Sanitize(err.Error()))
		}
		return
	}
	out.ProviderConnection = &ConnectionRef{ID: conn.ID, Provider: conn.Provider, Label: conn.DisplayName}
	if req.Type == "provider.verify" {
		out.OperatorTarget = "provider connection “" + conn.DisplayName + "”"
	}
	out.Actions = append(out.Actions, ActionLink{Label: "Open provider connection", Href: ConnectionURL(conn.TenantID, conn.ID), Kind: "provider_connection"})
}

// startConnection is the connection a provider-backed start is on: the one it names
// if it is the tenant's, else the tenant's default (ErrNotFound: none).
func (s *Service) startConnection(ctx context.Context, req StartRequest) (tenancy.ProviderConnection, error) {
	if req.ProviderConnectionID == uuid.Nil {
		return s.tenancy.DefaultConnection(ctx, req.TenantID)
	}
	conn, err := s.tenancy.Connection(ctx, req.ProviderConnectionID)
	if err == nil && conn.TenantID != req.TenantID {
		return tenancy.ProviderConnection{}, tenancy.ErrNotFound
	}
	return conn, err
}
