package monolith

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// The demo's fixed logins. They exist only in databases seeded by `atlas seed demo`
// (or `atlas dev`), and are printed by it; never use them elsewhere.
var demoUsers = []struct {
	key, email, name, password, token string
	role                              tenancy.Role
	outsider                          bool
}{
	{"owner", "owner@contoso-msp.demo", "Olivia Owner", "demo-owner-password", "atl_demo_owner_6f1c2d9e4b7a4c0e8d5f3a2b1c0d9e8f", tenancy.RoleOwner, false},
	{"operator", "operator@contoso-msp.demo", "Oscar Operator", "demo-operator-password", "atl_demo_operator_1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6", tenancy.RoleOperator, false},
	{"readonly", "readonly@contoso-msp.demo", "Rita Readonly", "demo-readonly-password", "atl_demo_readonly_9f8e7d6c5b4a43210fedcba987654321", tenancy.RoleReadonly, false},
	{"compliance", "compliance@contoso-msp.demo", "Carl Compliance", "demo-compliance-password", "atl_demo_compliance_0a1b2c3d4e5f46a7b8c9d0e1f2a3b4c5", tenancy.RoleCompliance, false},
	{"outsider", "owner@fabrikam-partners.demo", "Fiona Fabrikam", "demo-outsider-password", "atl_demo_outsider_5e4d3c2b1a0f49e8d7c6b5a4f3e2d1c0", tenancy.RoleOwner, true},
}

// The demo's platform users (/system): "platform" has every platform capability,
// "platform_viewer" platform.ops.view only.
var demoPlatformUsers = []struct {
	key, email, name, password string
	caps                       []tenancy.PlatformCapability
}{
	{"platform", "platform@tenantatlas.demo", "Pat Platform", "demo-platform-password", tenancy.PlatformCapabilities()},
	{"platform_viewer", "platform-viewer@tenantatlas.demo", "Vera Viewer", "demo-platform-viewer-password",
		[]tenancy.PlatformCapability{tenancy.PlatformOpsView}},
}

// DemoGraphHost is the Graph host of the demo tenants' connections: no network answers
// it. Only `atlas dev`, and `atlas serve` or `atlas worker` given --demo-graph, route it
// to an in-process Graph simulator (graphsim.Router, Options.DemoGraph); every other
// process refuses a connection aimed at it (the gate blocks the start with
// provider_connection_invalid, a worker fails the run with the same code).
const DemoGraphHost = "graph-simulator.demo"

// DemoGraphRefused is the reason a process without the demo Graph gives for refusing a
// connection aimed at DemoGraphHost.
const DemoGraphRefused = "This connection points at the demo Graph simulator (" + DemoGraphHost +
	"), which only `atlas dev` or `atlas serve --demo-graph` / `atlas worker --demo-graph` serves."

// DemoGraphURL is the demo connections' Graph base URL. It is https like every
// endpoint off loopback; no TLS is spoken, the simulator answers in-process.
const DemoGraphURL = "https://" + DemoGraphHost

// DemoSecretEnv names the environment variable holding the demo connections' client
// secret (their SecretRef is "env:" + DemoSecretEnv); the one "env:" reference allowed
// outside graph.SecretEnvPrefix.
const DemoSecretEnv = graph.DemoSecretEnv

const (
	demoWorkspace     = "Contoso MSP (demo)"
	outsiderWorkspace = "Fabrikam Partners (demo)"
	seedActor         = "system:seed"
)

var demoTenants = []struct{ name, external string }{
	{"Contoso Retail", "contoso-retail.onmicrosoft.com"},
	{"Contoso Health", "contoso-health.onmicrosoft.com"},
	{"Contoso Legal", "contoso-legal.onmicrosoft.com"},
}

// DemoLogin is one user of the seed output.
type DemoLogin struct {
	ID       uuid.UUID `json:"id"`
	Email    string    `json:"email"`
	Password string    `json:"password"`
	Token    string    `json:"token"`
}

// DemoPlatformLogin is one platform user (/system) of the seed output.
type DemoPlatformLogin struct {
	ID       uuid.UUID `json:"id"`
	Email    string    `json:"email"`
	Password string    `json:"password"`
}

// DemoTenant is one tenant of the seed output.
type DemoTenant struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// DemoSeed is what `atlas seed demo --json` prints.
type DemoSeed struct {
	Workspace uuid.UUID            `json:"workspace"`
	Tenants   []DemoTenant         `json:"tenants"`
	Users     map[string]DemoLogin `json:"users"`
	// Platform has every platform capability; PlatformViewer platform.ops.view only.
	Platform       DemoPlatformLogin `json:"platform"`
	PlatformViewer DemoPlatformLogin `json:"platform_viewer"`
}

// SeedDemo creates (or finds) the demo workspace, tenants, provider connections, users,
// memberships, tokens and the two platform users of /system. Running it again changes nothing.
func SeedDemo(ctx context.Context, a *App) (DemoSeed, error) {
	ws, err := ensureWorkspace(ctx, a, demoWorkspace)
	if err != nil {
		return DemoSeed{}, err
	}
	other, err := ensureWorkspace(ctx, a, outsiderWorkspace)
	if err != nil {
		return DemoSeed{}, err
	}
	out := DemoSeed{Workspace: ws.ID, Users: map[string]DemoLogin{}}
	for _, dt := range demoTenants {
		t, err := ensureTenant(ctx, a, ws.ID, dt.name, dt.external)
		if err != nil {
			return DemoSeed{}, err
		}
		out.Tenants = append(out.Tenants, DemoTenant{ID: t.ID, Name: t.Name})
	}
	// Demo databases seeded before the simulator host existed point at the real Graph.
	if err := PointDemoAtGraph(ctx, a, out, DemoGraphURL); err != nil {
		return DemoSeed{}, err
	}
	if _, err := ensureTenant(ctx, a, other.ID, "Fabrikam Manufacturing", "fabrikam-mfg.onmicrosoft.com"); err != nil {
		return DemoSeed{}, err
	}
	for _, du := range demoUsers {
		u, err := a.Tenancy.UserByEmail(ctx, du.email)
		if errors.Is(err, tenancy.ErrNotFound) {
			u, err = a.Tenancy.RegisterUser(ctx, seedActor, du.email, du.name, du.password)
		}
		if err != nil {
			return DemoSeed{}, fmt.Errorf("seed user %s: %w", du.key, err)
		}
		wsID := ws.ID
		if du.outsider {
			wsID = other.ID
		}
		if err := a.Tenancy.GrantMembership(ctx, seedActor, tenancy.Membership{UserID: u.ID, WorkspaceID: wsID, Role: du.role}); err != nil {
			return DemoSeed{}, fmt.Errorf("seed membership %s: %w", du.key, err)
		}
		if _, err := a.Tenancy.ImportToken(ctx, seedActor, u.ID, "demo", du.token); err != nil {
			return DemoSeed{}, fmt.Errorf("seed token %s: %w", du.key, err)
		}
		out.Users[du.key] = DemoLogin{ID: u.ID, Email: du.email, Password: du.password, Token: du.token}
	}
	for _, dp := range demoPlatformUsers {
		u, err := a.Tenancy.PlatformUserByEmail(ctx, dp.email)
		if errors.Is(err, tenancy.ErrNotFound) {
			u, err = a.Tenancy.CreatePlatformUser(ctx, seedActor, tenancy.NewPlatformUser{Email: dp.email, Name: dp.name,
				Password: dp.password, Capabilities: dp.caps})
		}
		if err != nil {
			return DemoSeed{}, fmt.Errorf("seed platform user %s: %w", dp.key, err)
		}
		login := DemoPlatformLogin{ID: u.ID, Email: dp.email, Password: dp.password}
		if dp.key == "platform" {
			out.Platform = login
		} else {
			out.PlatformViewer = login
		}
	}
	return out, nil
}

func ensureWorkspace(ctx context.Context, a *App, name string) (tenancy.Workspace, error) {
	ws, err := a.Tenancy.WorkspaceByName(ctx, name)
	if errors.Is(err, tenancy.ErrNotFound) {
		ws, err = a.Tenancy.CreateWorkspace(ctx, seedActor, name)
	}
	if err != nil {
		return tenancy.Workspace{}, fmt.Errorf("seed workspace %q: %w", name, err)
	}
	return ws, nil
}

// ensureTenant finds a tenant by name in the workspace or adds it with a working
// provider connection.
func ensureTenant(ctx context.Context, a *App, workspaceID uuid.UUID, name, external string) (tenancy.Tenant, error) {
	tenants, err := a.Tenancy.TenantsOf(ctx, workspaceID)
	if err != nil {
		return tenancy.Tenant{}, err
	}
	for _, t := range tenants {
		if t.Name == name {
			return t, nil
		}
	}
	t, err := a.Tenancy.AddTenant(ctx, seedActor, workspaceID, name, external)
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("seed tenant %q: %w", name, err)
	}
	if _, err := a.Tenancy.AddProviderConnection(ctx, seedActor, tenancy.ProviderConnection{
		TenantID: t.ID, Provider: "microsoft", DisplayName: "Microsoft Graph (demo)", Status: tenancy.ConnectionOK,
		EntraTenantID: external, ClientID: "00000000-0000-4000-8000-00000000a71a", SecretRef: "env:" + DemoSecretEnv,
		GraphBaseURL: DemoGraphURL,
	}); err != nil {
		return tenancy.Tenant{}, fmt.Errorf("seed provider connection for %q: %w", name, err)
	}
	return t, nil
}

// PointDemoAtGraph points every demo tenant's default connection at baseURL
// (DemoGraphURL, another simulator, or "" for the real Microsoft Graph).
func PointDemoAtGraph(ctx context.Context, a *App, seed DemoSeed, baseURL string) error {
	for _, t := range seed.Tenants {
		pc, err := a.Tenancy.DefaultConnection(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("demo connection of %s: %w", t.Name, err)
		}
		if err := a.Tenancy.SetConnectionEndpoint(ctx, seedActor, pc.ID, baseURL); err != nil {
			return err
		}
	}
	return nil
}
