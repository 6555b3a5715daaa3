package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error { return monolith.Migrate(ctx, pool) })
	pgtest.Main(m)
}

// hub is the system served on a loopback port, seeded with the demo.
type hub struct {
	base string
	seed monolith.DemoSeed
	app  *monolith.App
	// stopStreams stops the live streams' listener, as `atlas serve` does on SIGTERM.
	stopStreams func()
	// srv is the served app (its routes, for the tests that walk every one).
	srv *web.Server
}

var (
	seedOnce sync.Once
	seed     monolith.DemoSeed
	seedErr  error
)

// startHub serves the system over the package database, seeded once with the demo.
func startHub(t *testing.T, pool *pgxpool.Pool, opts ...func(*web.Deps)) *hub {
	t.Helper()
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	seedOnce.Do(func() { seed, seedErr = monolith.SeedDemo(context.Background(), a) })
	require.NoError(t, seedErr)
	return serveHub(t, a, pool, seed, opts...)
}

// startHubTB serves the system over a database of its own (benchmarks), seeding it.
func startHubTB(tb testing.TB, pool *pgxpool.Pool) *hub {
	tb.Helper()
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	s, err := monolith.SeedDemo(tb.Context(), a)
	require.NoError(tb, err)
	return serveHub(tb, a, pool, s)
}

func serveHub(t testing.TB, a *monolith.App, pool *pgxpool.Pool, seed monolith.DemoSeed, opts ...func(*web.Deps)) *hub {
	t.Helper()
	deps := web.Deps{Database: pool, Tenancy: a.Tenancy, Operations: a.Operations,
		Runs: a.Runs, Inventory: a.Inventory, Directory: a.Directory, Drift: a.Drift, Backup: a.Backup, Restore: a.Restore, Onboarding: a.Onboarding, Alerts: a.Alerts, Runbooks: a.Runbooks, Events: a.Store, Ready: a.Ready, Collectors: a.Collectors()}
	deps.Streams.Changes = projections.NewRunChanges(pool, nil) // live streams, as `atlas serve` runs them
	for _, o := range opts {
		o(&deps)
	}
	srv := web.New(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.App().Listener(ln) }()
	listenCtx, stopListening := context.WithCancel(context.Background())
	listened := make(chan struct{})
	go func() { defer close(listened); srv.ListenRunChanges(listenCtx) }()
	t.Cleanup(func() { _ = srv.App().ShutdownWithTimeout(5 * time.Second) })
	t.Cleanup(func() { stopListening(); <-listened }) // first: it ends the open streams
	return &hub{base: "http://" + ln.Addr().String(), seed: seed, app: a, stopStreams: func() { stopListening(); <-listened }, srv: srv}
}

// call makes a request as a principal ("" = no token, "bad" = a wrong token).
func (h *hub) call(t *testing.T, who, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, strings.NewReader(body))
	require.NoError(t, err)
	switch who {
	case "":
	case "bad":
		req.Header.Set("Authorization", "Bearer atl_not_a_real_token")
	default:
		req.Header.Set("Authorization", "Bearer "+h.seed.Users[who].Token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(raw, &v), "non-JSON answer %d: %s", resp.StatusCode, raw)
	if resp.StatusCode >= 400 {
		e, ok := v["error"].(map[string]any)
		require.True(t, ok, "error answers are {\"error\":{...}}: %s", raw)
		require.NotEmpty(t, e["code"])
		require.NotEmpty(t, e["message"])
		for _, leak := range []string{"goroutine", "SQLSTATE", "pgx", "panic", ".go:"} {
			require.NotContains(t, string(raw), leak)
		}
	}
	return resp.StatusCode, v
}

// TestAPIAuthorizationMatrix calls every API route as every kind of principal.
func TestAPIAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	tenant := h.seed.Tenants[0].ID

	// A run to look at, started by the operator.
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant.String()+"/operations/drift.generate/start", `{"context":{"baseline":"latest"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)

	principals := []string{"owner", "operator", "readonly", "compliance", "outsider", "", "bad"}
	routes := []struct {
		name, method, path, body string
		want                     map[string]int
	}{
		{"start inventory.sync", "POST", "/api/v1/tenants/" + tenant.String() + "/operations/inventory.sync/start", `{"context":{}}`,
			map[string]int{"owner": 200, "operator": 200, "readonly": 403, "compliance": 403, "outsider": 404, "": 401, "bad": 401}},
		// A restore starts from its own page (after its preview and a typed confirmation),
		// never the generic API: refused for everyone before authorization, nothing recorded.
		{"start restore.execute", "POST", "/api/v1/tenants/" + tenant.String() + "/operations/restore.execute/start", `{}`,
			map[string]int{"owner": 422, "operator": 422, "readonly": 422, "compliance": 422, "outsider": 422, "": 401, "bad": 401}},
		{"run detail", "GET", "/api/v1/operations/" + runID, "",
			map[string]int{"owner": 200, "operator": 200, "readonly": 200, "compliance": 200, "outsider": 404, "": 401, "bad": 401}},
		{"run events", "GET", "/api/v1/operations/" + runID + "/events", "",
			map[string]int{"owner": 200, "operator": 200, "readonly": 200, "compliance": 200, "outsider": 404, "": 401, "bad": 401}},
		{"notifications", "GET", "/api/v1/notifications", "",
			map[string]int{"owner": 200, "operator": 200, "readonly": 200, "compliance": 200, "outsider": 200, "": 401, "bad": 401}},
		{"run list", "GET", "/api/v1/operations?tenant=" + tenant.String(), "",
			map[string]int{"owner": 200, "operator": 200, "readonly": 200, "compliance": 200, "outsider": 200, "": 401, "bad": 401}},
	}
	for _, r := range routes {
		for _, who := range principals {
			name := who
			if name == "" {
				name = "no token"
			}
			code, _ := h.call(t, who, r.method, r.path, r.body)
			require.Equal(t, r.want[who], code, "%s as %s", r.name, name)
		}
	}
}

func TestAPIStartAndRead(t *testing.T) {
	t.Parallel()
	// A database of its own: the test needs tenant 1's scope free (no other test may
	// hold it, nor an earlier run of this test under -count).
	h := startHubTB(t, pgtest.Fresh(t))
	tenant := h.seed.Tenants[1].ID
	path := "/api/v1/tenants/" + tenant.String() + "/operations/inventory.sync/start"
	code, out := h.call(t, "operator", "POST", path, `{"context":{"policyTypes":["deviceConfiguration"]},"providerConnectionId":null}`)
	require.Equal(t, 200, code)
	require.Equal(t, "accepted", out["status"])
	require.Equal(t, "inventory.sync", out["operationType"])
	require.NotEmpty(t, out["operatorMessage"])
	require.Contains(t, out, "shortReason")
	require.NotEmpty(t, out["nextSteps"])
	run := out["run"].(map[string]any)
	require.Equal(t, "queued", run["status"])
	require.Equal(t, "/admin/operations/"+run["id"].(string), run["url"])

	code, again := h.call(t, "owner", "POST", path, `{"context":{"policyTypes":["deviceConfiguration"]}}`)
	require.Equal(t, 200, code)
	require.Equal(t, "deduped", again["status"])
	require.Equal(t, run["id"], again["run"].(map[string]any)["id"])

	code, busy := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant.String()+"/operations/directory.groups.sync/start", `{}`)
	require.Equal(t, 200, code)
	require.Equal(t, "scope_busy", busy["status"])

	code, detail := h.call(t, "readonly", "GET", "/api/v1/operations/"+run["id"].(string), "")
	require.Equal(t, 200, code)
	for _, k := range []string{"id", "type", "workspaceId", "tenantId", "status", "outcome", "bucket", "counts", "failures",
		"initiator", "queuedAt", "startedAt", "completedAt", "context", "related", "nextSteps"} {
		require.Contains(t, detail, k)
	}
	require.Equal(t, "queued", detail["bucket"])
	require.Equal(t, tenant.String(), detail["tenantId"])
	require.Equal(t, map[string]any{"policyTypes": []any{"deviceConfiguration"}}, detail["context"])
	require.NotContains(t, fmt.Sprint(detail["initiator"]), "127.0.0.1", "the initiator's IP is not shown")

	code, evs := h.call(t, "compliance", "GET", "/api/v1/operations/"+run["id"].(string)+"/events", "")
	require.Equal(t, 200, code)
	events := evs["events"].([]any)
	require.Len(t, events, 2, "RunQueued and the initiator's notification")
	first := events[0].(map[string]any)
	require.Equal(t, "RunQueued", first["type"])
	require.Len(t, first["hash"], 64)
	require.NotEmpty(t, first["metadata"])

	// The inbox is a read model the projection runner builds from the log.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = h.app.Runner.Run(ctx, projections.Notifications{}) }()
	var notes map[string]any
	require.Eventually(t, func() bool {
		code, notes = h.call(t, "operator", "GET", "/api/v1/notifications", "")
		require.Equal(t, 200, code)
		for _, n := range notes["notifications"].([]any) {
			if n.(map[string]any)["runId"] == run["id"] {
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "the operator's queued notification never arrived")
	code, notes = h.call(t, "owner", "GET", "/api/v1/notifications", "")
	require.Equal(t, 200, code)
	for _, n := range notes["notifications"].([]any) {
		require.NotEqual(t, run["id"], n.(map[string]any)["runId"], "the owner deduped onto the operator's run: not notified")
	}
}

func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	// A database of its own: other tests start runs on the shared one's tenants.
	h := startHubTB(t, pgtest.Fresh(t))
	tenant := h.seed.Tenants[2].ID.String()
	cases := []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown type", "POST", "/api/v1/tenants/" + tenant + "/operations/frobnicate/start", `{}`, 422},
		{"context not an object", "POST", "/api/v1/tenants/" + tenant + "/operations/drift.generate/start", `{"context":[1]}`, 422},
		{"body not JSON", "POST", "/api/v1/tenants/" + tenant + "/operations/drift.generate/start", `{"context":`, 422},
		{"bad connection id", "POST", "/api/v1/tenants/" + tenant + "/operations/drift.generate/start", `{"providerConnectionId":"x"}`, 422},
		{"unknown tenant", "POST", "/api/v1/tenants/" + uuid.NewString() + "/operations/drift.generate/start", `{}`, 404},
		{"tenant not a uuid", "POST", "/api/v1/tenants/acme/operations/drift.generate/start", `{}`, 404},
		{"unknown run", "GET", "/api/v1/operations/" + uuid.NewString(), "", 404},
		{"run not a uuid", "GET", "/api/v1/operations/42", "", 404},
		{"unknown route", "GET", "/api/v1/nope", "", 404},
	}
	for _, c := range cases {
		code, _ := h.call(t, "owner", c.method, c.path, c.body)
		require.Equal(t, c.want, code, c.name)
	}
	var n int
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs WHERE tenant_id = $1`, h.seed.Tenants[2].ID).Scan(&n))
	require.Zero(t, n, "bad input loses nothing and creates nothing")
}
