package web

import (
	"cmp"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// connectionRecentRuns is how many of a connection's runs its page lists.
const connectionRecentRuns = 20

// connectionView is what the hub shows of a provider connection: never its secret
// reference's name or value (only the kind of store it names), never credentials.
type connectionView struct {
	ID            uuid.UUID
	TenantID      uuid.UUID
	Name          string
	Provider      string
	Status        tenancy.ConnectionStatus
	StatusBadge   string // the bucket colour of the status: succeeded, failed or queued
	StatusReason  string
	Consent       string
	IsDefault     bool
	EndpointHost  string
	SecretKind    string // "an environment variable", "a file in the secrets directory"; "" without a reference
	EntraTenantID string
	ClientID      string
	UpdatedAt     time.Time
	URL           string
	// LastVerification is the connection's newest provider.verify run (nil: never verified).
	LastVerification *projections.RunSummary
}

// connectionViewOf builds the view of a connection.
func connectionViewOf(pc tenancy.ProviderConnection) connectionView {
	v := connectionView{ID: pc.ID, TenantID: pc.TenantID, Name: pc.DisplayName, Provider: pc.Provider, Status: pc.Status,
		StatusReason: pc.StatusReason, Consent: consentOf(pc.Status), IsDefault: pc.IsDefault,
		EndpointHost: "graph.microsoft.com", SecretKind: "", EntraTenantID: pc.EntraTenantID, ClientID: pc.ClientID,
		UpdatedAt: pc.UpdatedAt, URL: operations.ConnectionURL(pc.TenantID, pc.ID)}
	switch pc.Status {
	case tenancy.ConnectionOK:
		v.StatusBadge = "succeeded"
	case tenancy.ConnectionDisabled:
		v.StatusBadge = "queued"
	default:
		v.StatusBadge = "failed"
	}
	if pc.GraphBaseURL != "" {
		if u, err := url.Parse(pc.GraphBaseURL); err == nil && u.Host != "" {
			v.EndpointHost = u.Host
		}
	}
	if kind, _, ok := strings.Cut(pc.SecretRef, ":"); ok {
		switch kind {
		case "env":
			v.SecretKind = "an environment variable"
		case "file":
			v.SecretKind = "a file in the secrets directory"
		default:
			v.SecretKind = "an unknown store"
		}
	}
	return v
}

// consentOf is what a connection's status says about admin consent: missing, granted
// (a token was issued: the connection works or only lacks a permission), or unknown.
func consentOf(st tenancy.ConnectionStatus) string {
	switch st {
	case tenancy.ConnectionConsentMissing:
		return "missing"
	case tenancy.ConnectionOK, tenancy.ConnectionPermissionDenied:
		return "granted"
	default:
		return "unknown"
	}
}

// connectionStart is one start button of a connection's page.
type connectionStart struct {
	Type, Label, Action string
}

// connectionsPage is the data of the provider_connections template.
type connectionsPage struct {
	Tenant      tenancy.Tenant
	Connections []connectionView
}

// connectionPage is the data of the provider_connection template.
type connectionPage struct {
	Tenant     tenancy.Tenant
	Connection connectionView
	Starts     []connectionStart
	Runs       []runRow
}

// handleAdminConnections lists a tenant's provider connections: name, status, consent,
// the default, and each one's last verification run.
func (s *Server) handleAdminConnections(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	conns, err := s.deps.Tenancy.ConnectionsOf(ctx, t.ID)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(conns))
	for i, pc := range conns {
		ids[i] = pc.ID
	}
	last, err := s.reads().LatestConnectionRuns(ctx, ids, "provider.verify")
	if err != nil {
		return err
	}
	data := connectionsPage{Tenant: t, Connections: make([]connectionView, len(conns))}
	for i, pc := range conns {
		data.Connections[i] = connectionViewOf(pc)
		if r, ok := last[pc.ID]; ok {
			data.Connections[i].LastVerification = &r
		}
	}
	return s.render(c, fiber.StatusOK, "provider_connections", page{Title: t.Name + " · Provider connections", Nav: "connections", Tenant: &t, Data: data})
}

// handleAdminConnection shows one provider connection: status, consent, endpoint host,
// the default flag, the last verification, the runs started on it, and the starts the
// caller may make from it (none for a role that may only view).
func (s *Server) handleAdminConnection(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	pc, err := s.tenantConnection(c, t.ID)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	data := connectionPage{Tenant: t, Connection: connectionViewOf(pc)}
	last, err := s.reads().LatestConnectionRuns(ctx, []uuid.UUID{pc.ID}, "provider.verify")
	if err != nil {
		return err
	}
	if r, ok := last[pc.ID]; ok {
		data.Connection.LastVerification = &r
	}
	runs, err := s.reads().ConnectionRuns(ctx, pc.ID, "", connectionRecentRuns)
	if err != nil {
		return err
	}
	if data.Runs, err = s.withTenantNames(ctx, runs, &t); err != nil {
		return err
	}
	types := operations.Types()
	// Verification first: it is what the page is for; the syncs follow by name.
	slices.SortStableFunc(types, func(a, b operations.TypeInfo) int {
		return cmp.Compare(btoi(a.Type != "provider.verify"), btoi(b.Type != "provider.verify"))
	})
	for _, ti := range types {
		if !ti.StartsFrom(operations.SurfaceConnectionPage) {
			continue
		}
		ok, err := s.canStart(c, t.ID, ti.Type)
		if err != nil {
			return err
		}
		if ok {
			verb, target := operations.OperatorWords(ti.Type)
			data.Starts = append(data.Starts, connectionStart{Type: ti.Type, Label: verb + " " + target,
				Action: "/admin/provider-connections/" + pc.ID.String() + "/actions/" + ti.Type + "/start"})
		}
	}
	return s.render(c, fiber.StatusOK, "provider_connection", page{Title: pc.DisplayName + " · Provider connection", Nav: "connections", Tenant: &t, Data: data})
}

// btoi is 1 for true, 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tenantConnection reads the :connection parameter: a connection of tenantID, else a
// 404 (malformed, unknown, or another tenant's).
func (s *Server) tenantConnection(c *fiber.Ctx, tenantID uuid.UUID) (tenancy.ProviderConnection, error) {
	id, err := paramUUID(c, "connection")
	if err != nil {
		return tenancy.ProviderConnection{}, err
	}
	pc, err := s.deps.Tenancy.Connection(c.UserContext(), id)
	if errors.Is(err, tenancy.ErrNotFound) || (err == nil && pc.TenantID != tenantID) {
		return tenancy.ProviderConnection{}, notInTenant()
	}
	return pc, err
}

// handleAdminConnectionStart is a connection page's start button
// (POST /admin/provider-connections/{connection}/actions/{operation}/start, spec 216):
// a non-member (or an unknown connection) gets 404, a type the page does not start or
// no worker runs 422, a member without the type's start capability 403 (the gate);
// otherwise the gate's whole ProviderStartOutcome is the flash of the connection page.
func (s *Server) handleAdminConnectionStart(c *fiber.Ctx) error {
	id, err := paramUUID(c, "connection")
	if err != nil {
		return err
	}
	op, err := paramText(c, "operation", 100)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	pc, err := s.deps.Tenancy.Connection(ctx, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return notInTenant()
	}
	if err != nil {
		return err
	}
	_, dec, err := s.deps.Tenancy.Authorize(ctx, currentUser(c).ID, pc.TenantID, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	if err := dec.Err(); err != nil {
		return err
	}
	if err := s.deps.Operations.CheckStart(op, operations.SurfaceConnectionPage); err != nil {
		return err
	}
	u := currentUser(c)
	out, err := s.deps.Operations.Start(ctx, operations.StartRequest{
		Type:                 op,
		TenantID:             pc.TenantID,
		ProviderConnectionID: pc.ID,
		Initiator:            initiatorOf(c, u.ID, u.Email),
		SourceSurface:        "web",
	})
	if err != nil {
		return err
	}
	s.setFlash(c, flashOf(out))
	return c.Redirect(operations.ConnectionURL(pc.TenantID, pc.ID), fiber.StatusSeeOther)
}
