package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// startAuditHub serves a demo-seeded system over a database of its own, so its audit
// entries are the test's alone.
func startAuditHub(t *testing.T) *hub {
	t.Helper()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	return serveHub(t, a, pool, s)
}

// fetch sends method path from b with user agent ua and, when token is set, as that
// API token; it answers the status.
func (b *browser) fetch(method, path, ua, token string) int {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.h.base+path, nil)
	require.NoError(b.t, err)
	req.Header.Set("User-Agent", ua)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, _ := b.do(req)
	return resp.StatusCode
}

// TestDeniedViewsAreAudited: a 404 on a tenant or a run, in the hub and in the API, is
// one access.view audit entry with the user, the client's address and user agent, the
// id as requested (a malformed one, as sent, reduced to [0-9A-Za-z-] and 64 characters) and the outcome; a view
// that is allowed records nothing. A start on a tenant that is not the user's is the
// gate's operation.start denied entry.
func TestDeniedViewsAreAudited(t *testing.T) {
	t.Parallel()
	h := startAuditHub(t)
	tenant := h.seed.Tenants[0].ID.String()
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start", `{"context":{"baseline":"latest"}}`)
	require.Equal(t, http.StatusOK, code)
	run := started["run"].(map[string]any)["id"].(string)
	outsider := h.seed.Users["outsider"]
	actor := tenancy.UserActor(outsider.ID)

	hubB := browserFrom(t, h, "127.0.21.1")
	hubB.login("outsider")
	const ua = "denied-views-test/1.0"
	require.Equal(t, http.StatusNotFound, hubB.fetch("GET", "/admin/t/"+tenant+"/operations", ua, ""))
	require.Equal(t, http.StatusNotFound, hubB.fetch("GET", "/admin/operations/"+run, ua, ""))
	require.Equal(t, http.StatusNotFound, hubB.fetch("GET", "/admin/operations/not%20a%20run%3Cscript%3E", ua, ""))
	apiB := browserFrom(t, h, "127.0.21.2")
	require.Equal(t, http.StatusNotFound, apiB.fetch("GET", "/api/v1/operations/"+run, ua, outsider.Token))
	require.Equal(t, http.StatusNotFound, apiB.fetch("GET", "/api/v1/operations/"+run+"/events", ua, outsider.Token))
	require.Equal(t, http.StatusNotFound, apiB.fetch("POST", "/api/v1/tenants/"+tenant+"/operations/inventory.sync/start", ua, outsider.Token))
	// Allowed views are not audited.
	owner := browserFrom(t, h, "127.0.21.3")
	require.Equal(t, http.StatusOK, owner.fetch("GET", "/api/v1/operations/"+run, ua, h.seed.Users["owner"].Token))

	nf := tenancy.DeniedNotFound
	require.Equal(t, []auditRow{
		{tenancy.ActionViewDenied, nf, actor, "tenant:" + tenant, "/admin/t/:tenant/operations", "127.0.21.1", ua},
		{tenancy.ActionViewDenied, nf, actor, "run:" + run, "/admin/operations/:run", "127.0.21.1", ua},
		{tenancy.ActionViewDenied, nf, actor, "run:not_20a_20run_3Cscript_3E", "/admin/operations/:run", "127.0.21.1", ua},
		{tenancy.ActionViewDenied, nf, actor, "run:" + run, "/api/v1/operations/:run", "127.0.21.2", ua},
		{tenancy.ActionViewDenied, nf, actor, "run:" + run, "/api/v1/operations/:run/events", "127.0.21.2", ua},
		{operations.AuditActionStart, operations.AuditDenied, actor, "tenant:" + tenant + "/type:inventory.sync", operations.DeniedNotFound, "127.0.21.2", ua},
	}, auditEntries(t, h, tenancy.ActionViewDenied, operations.AuditActionStart)[1:], "after the operator's accepted start")
}

// TestForbiddenRunViewIsAudited: a member lacking the capability — a user with only a
// tenant-level membership asking for a workspace-scoped run — gets a 403, audited as
// denied_forbidden with the user, the address and the user agent.
func TestForbiddenRunViewIsAudited(t *testing.T) {
	t.Parallel()
	h := startAuditHub(t)
	ctx, ten, ws := t.Context(), h.app.Tenancy, h.seed.Workspace
	h.app.Operations.DeclareRunnable("findings.lifecycle.backfill")
	out, err := h.app.Operations.Start(ctx, operations.StartRequest{Type: "findings.lifecycle.backfill", WorkspaceID: ws,
		Context: []byte(`{"scope":"all"}`), Initiator: operations.Initiator{Kind: "system", Name: "test"}, SourceSurface: "test"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
	u, err := ten.RegisterUser(ctx, "system:test", "tenant-only@example.test", "Tenant Only", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: u.ID, WorkspaceID: ws,
		TenantID: h.seed.Tenants[0].ID, Role: tenancy.RoleReadonly}))
	token := tenancy.TokenPrefix + strings.Repeat("f", 43)
	_, err = ten.ImportToken(ctx, "system:test", u.ID, "test", token)
	require.NoError(t, err)

	b := browserFrom(t, h, "127.0.23.1")
	require.Equal(t, http.StatusForbidden, b.fetch("GET", "/api/v1/operations/"+out.Run.ID.String(), "forbidden-test/1.0", token))
	require.Equal(t, []auditRow{{tenancy.ActionViewDenied, tenancy.DeniedForbidden, tenancy.UserActor(u.ID), "run:" + out.Run.ID.String(),
		"/api/v1/operations/:run", "127.0.23.1", "forbidden-test/1.0"}}, auditEntries(t, h, tenancy.ActionViewDenied))
}

// TestDeniedViewAuditFlood: a client walking run ids as one user gets a 404 for every
// request, but only audit.DeniedLimit audit entries a minute; the rest are counted on
// /metrics (atlas_audit_suppressed_total).
func TestDeniedViewAuditFlood(t *testing.T) {
	t.Parallel()
	h := startAuditHub(t)
	b := browserFrom(t, h, "127.0.22.1")
	token := h.seed.Users["outsider"].Token
	for i := range 3 * audit.DeniedLimit {
		path := "/api/v1/operations/00000000-0000-4000-8000-" + strings.Repeat("0", 8) + string(rune('a'+i%26)) + "abc"
		require.Equal(t, http.StatusNotFound, b.fetch("GET", path, "flood/1.0", token))
	}
	require.Len(t, auditEntries(t, h, tenancy.ActionViewDenied), audit.DeniedLimit)
	resp, body := b.get("/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `atlas_audit_suppressed_total{action="access.view"}`)
}
