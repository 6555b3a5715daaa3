package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
		return monolith.Migrate(ctx, pool)
	})
	pgtest.Main(m)
}

// atlas runs the CLI in-process with the given environment and returns exit code,
// stdout and stderr.
func atlas(ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	var out, errOut monotest.Buffer
	code := run(ctx, &cli{stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}, args)
	return code, out.String(), errOut.String()
}

// background is an atlas command running in-process until the test stops it.
type background struct {
	stdout, stderr monotest.Buffer
	done           chan int
	cancel         context.CancelFunc
}

// startAtlas runs the command in the background; stop ends it.
func startAtlas(t *testing.T, env map[string]string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	b := &background{done: make(chan int, 1), cancel: cancel}
	go func() {
		b.done <- run(ctx, &cli{stdout: &b.stdout, stderr: &b.stderr, getenv: func(k string) string { return env[k] }}, args)
	}()
	t.Cleanup(cancel)
	return b
}

// stop cancels the command (SIGTERM's path) and requires a clean exit.
func (b *background) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	select {
	case c := <-b.done:
		require.Equal(t, 0, c, b.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not stop after cancellation")
	}
}

// servingAddr waits for the "serving" log line of serve (or dev) and returns its address.
func (b *background) servingAddr(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile(`"msg":"serving","addr":"([^"]+)"`)
	var addr string
	require.Eventually(t, func() bool {
		if m := re.FindStringSubmatch(b.stderr.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	}, 30*time.Second, 10*time.Millisecond, "never served: %s", b.stderr.String())
	return addr
}

// apiJSON calls the JSON API of the server at addr with a bearer token.
func apiJSON(t *testing.T, addr, token, method, path string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// hubSession signs in to the hub at addr and returns a client carrying the session.
func hubSession(t *testing.T, addr, email, password string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("http://" + addr + "/admin/login")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	require.NotNil(t, m)
	resp, err = client.PostForm("http://"+addr+"/admin/login", url.Values{"email": {email}, "password": {password}, "_csrf": {string(m[1])}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "signed in")
	return client
}

// runToEnd starts a run of typ on tenant through the API and waits for it to complete.
func runToEnd(t *testing.T, addr, token, tenant, typ string) map[string]any {
	t.Helper()
	out := apiJSON(t, addr, token, "POST", "/api/v1/tenants/"+tenant+"/operations/"+typ+"/start")
	require.Equal(t, "accepted", out["status"], out)
	runID := out["run"].(map[string]any)["id"].(string)
	var detail map[string]any
	require.Eventually(t, func() bool {
		detail = apiJSON(t, addr, token, "GET", "/api/v1/operations/"+runID)
		return detail["status"] == "completed"
	}, 60*time.Second, 100*time.Millisecond)
	return detail
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	code, _, stderr := atlas(t.Context(), nil, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown command "frobnicate"`)

	code, _, stderr = atlas(t.Context(), nil, "migrate", "--bogus")
	require.Equal(t, 2, code)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	code, _, stderr = atlas(t.Context(), nil, "migrate", "--log-level", "loud")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "invalid log level")

	code, stdout, _ := atlas(t.Context(), nil, "help")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "audit verify")
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	for range 2 {
		code, stdout, stderr := atlas(t.Context(), env, "migrate")
		require.Equal(t, 0, code, stderr)
		for _, set := range monolith.MigrationSets() {
			files, err := fs.Glob(set.FS, "*.sql")
			require.NoError(t, err)
			require.Contains(t, stdout, fmt.Sprintf("%s: version %d\n", set.Name, len(files)), "every set at its latest version")
		}
	}
	code, _, stderr := atlas(t.Context(), map[string]string{}, "migrate")
	require.Equal(t, 1, code)
	require.Equal(t, "atlas migrate: DATABASE_URL is not set\n", stderr)
}

func TestDatabaseErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://atlas:s3cret-pw@127.0.0.1:1/atlas?connect_timeout=2"}
	code, _, stderr := atlas(t.Context(), env, "migrate")
	require.Equal(t, 1, code)
	require.NotContains(t, stderr, "s3cret-pw")
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
}

type noted struct{ Note string }

func (noted) EventType() string { return "Noted" }

// TestAuditVerify appends and seals events, verifies (exit 0), edits one event with raw
// SQL and verifies again (exit 1 naming its position).
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	env := map[string]string{"DATABASE_URL": pool.Config().ConnString()}
	reg := eventstore.NewRegistry()
	reg.Register(noted{}, 1)
	store := eventstore.New(pool, eventstore.Options{Registry: reg})
	for i := range 5 {
		_, err := store.Append(t.Context(), eventstore.NewStreamID("note", uuid.New()), eventstore.NoStream,
			eventstore.NewEvent{Data: noted{Note: strings.Repeat("x", i)}, Metadata: eventstore.Metadata{Actor: "system:test"}})
		require.NoError(t, err)
	}
	// Sealing waits for older transactions anywhere on the server to end.
	require.Eventually(t, func() bool {
		_, err := store.Seal(t.Context())
		require.NoError(t, err)
		head, err := store.Head(t.Context())
		require.NoError(t, err)
		return head == 5
	}, 30*time.Second, 10*time.Millisecond)

	code, stdout, stderr := atlas(t.Context(), env, "audit", "verify")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "ok: 5 events verified, head position 5\n", stdout)

	_, err := pool.Exec(t.Context(), `UPDATE es_events SET data = '{"Note":"forged"}' WHERE global_position = 3`)
	require.NoError(t, err)
	code, _, stderr = atlas(t.Context(), env, "audit", "verify")
	require.Equal(t, 1, code)
	require.Regexp(t, regexp.MustCompile(`^atlas audit verify: hash chain broken at global position 3: .*edited\n$`), stderr)
}

// TestServe starts `atlas serve` on a loopback port, checks the health routes and the
// JSON 404, then stops it the way SIGTERM does (context cancelled) and expects exit 0.
func TestServe(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	srv := startAtlas(t, env, "serve", "--addr", "127.0.0.1:0")
	addr := srv.servingAddr(t)

	get := func(path string) (int, map[string]any) {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal(body, &v), string(body))
		return resp.StatusCode, v
	}
	code, body := get("/healthz")
	require.Equal(t, 200, code)
	require.Equal(t, "ok", body["status"])
	// Ready once sealing and the projections have caught up with what the package's
	// other tests wrote to this database (eventually, within a bound).
	require.Eventually(t, func() bool {
		code, body = get("/readyz")
		return code == 200 && body["status"] == "ready"
	}, 60*time.Second, 50*time.Millisecond, "readyz never turned ready: %d %v", code, body)
	code, body = get("/no/such/page")
	require.Equal(t, 404, code)
	require.Equal(t, map[string]any{"code": "not_found", "message": "no such route"}, body["error"])

	srv.stop(t)
	require.Contains(t, srv.stderr.String(), `"msg":"stopped"`)
}

// TestSeedDemoJSON seeds twice: the same JSON both times (idempotent), with every
// login of CONTRACT.md, and tokens that authenticate.
func TestSeedDemoJSON(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	env := map[string]string{"DATABASE_URL": pool.Config().ConnString()}
	code, first, stderr := atlas(t.Context(), env, "seed", "demo", "--json")
	require.Equal(t, 0, code, stderr)
	code, second, stderr := atlas(t.Context(), env, "seed", "demo", "--json")
	require.Equal(t, 0, code, stderr)
	require.JSONEq(t, first, second, "seeding again changes nothing")

	var seed struct {
		Workspace uuid.UUID `json:"workspace"`
		Tenants   []struct {
			ID   uuid.UUID `json:"id"`
			Name string    `json:"name"`
		} `json:"tenants"`
		Users map[string]struct {
			ID       uuid.UUID `json:"id"`
			Email    string    `json:"email"`
			Password string    `json:"password"`
			Token    string    `json:"token"`
		} `json:"users"`
		Platform, PlatformViewer struct {
			ID       uuid.UUID `json:"id"`
			Email    string    `json:"email"`
			Password string    `json:"password"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(first), &seed))
	require.NotEqual(t, uuid.Nil, seed.Workspace)
	require.Len(t, seed.Tenants, 3)
	a := newApp(pool, nil)
	for _, key := range []string{"owner", "operator", "readonly", "compliance", "outsider"} {
		u, ok := seed.Users[key]
		require.True(t, ok, key)
		got, err := a.Tenancy.AuthenticateToken(t.Context(), u.Token)
		require.NoError(t, err, key)
		require.Equal(t, u.ID, got.ID)
		_, err = a.Tenancy.AuthenticatePassword(t.Context(), u.Email, u.Password)
		require.NoError(t, err, key)
	}
	// The platform users of /system: "platform" has every capability, "platform_viewer"
	// platform.ops.view only; both sign in to /system, neither is a workspace user.
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(first), &raw))
	require.NoError(t, json.Unmarshal(raw["platform"], &seed.Platform))
	require.NoError(t, json.Unmarshal(raw["platform_viewer"], &seed.PlatformViewer))
	for _, pc := range []struct {
		email, password string
		caps            []tenancy.PlatformCapability
	}{
		{seed.Platform.Email, seed.Platform.Password, tenancy.PlatformCapabilities()},
		{seed.PlatformViewer.Email, seed.PlatformViewer.Password, []tenancy.PlatformCapability{tenancy.PlatformOpsView}},
	} {
		require.NotEmpty(t, pc.email)
		got, err := a.Tenancy.PlatformLogin(t.Context(), tenancy.LoginAttempt{Email: pc.email, Password: pc.password, IP: "192.0.2.1"})
		require.NoError(t, err, pc.email)
		require.ElementsMatch(t, pc.caps, got.Capabilities, pc.email)
		_, err = a.Tenancy.UserByEmail(t.Context(), pc.email)
		require.ErrorIs(t, err, tenancy.ErrNotFound, "a platform user is no workspace user")
	}
	for _, tn := range seed.Tenants {
		conn, err := a.Tenancy.DefaultConnection(t.Context(), tn.ID)
		require.NoError(t, err, "every demo tenant has a working provider connection")
		require.Equal(t, "ok", string(conn.Status))
		_, dec, err := a.Tenancy.Authorize(t.Context(), seed.Users["outsider"].ID, tn.ID, "operations.view")
		require.NoError(t, err)
		require.Equal(t, "not_found", dec.String(), "the outsider belongs to another workspace")
	}
}

// seededFresh is a database of the test's own with the demo seeded, its environment
// for the CLI, and the wired app.
func seededFresh(t *testing.T) (*pgxpool.Pool, map[string]string, *monolith.App, monolith.DemoSeed) {
	t.Helper()
	pool := pgtest.Fresh(t)
	a := newApp(pool, nil)
	seed, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	return pool, map[string]string{"DATABASE_URL": pool.Config().ConnString()}, a, seed
}

// TestWorkerCommand queues a run, then runs `atlas worker`: the worker claims it from
// the dispatch outbox and works it with the real drift handler (the run was admitted by
// an app without the gate's Graph-era preconditions; with no inventory snapshots the
// handler fails it with drift_baseline_missing), and the process stops cleanly.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	_, env, a, seed := seededFresh(t)
	op := seed.Users["operator"]
	out, err := a.Operations.Start(t.Context(), operations.StartRequest{Type: "drift.generate", TenantID: seed.Tenants[0].ID,
		Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, SourceSurface: "cli"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)

	for _, cmd := range []string{"worker", "serve"} {
		for _, bad := range []string{"0s", "-1s", "soon"} {
			code, _, stderr := atlas(t.Context(), env, cmd, "--shutdown-timeout", bad)
			require.Equal(t, 2, code, "%s --shutdown-timeout %s: %s", cmd, bad, stderr)
			require.Contains(t, stderr, "shutdown-timeout")
		}
	}
	worker := startAtlas(t, env, "worker", "--shutdown-timeout", "5s")
	require.Eventually(t, func() bool {
		r, err := a.Operations.Load(t.Context(), out.Run.ID)
		require.NoError(t, err)
		return r.Terminal()
	}, 30*time.Second, 20*time.Millisecond, "the worker never picked the run up: %s", worker.stderr.String())
	r, err := a.Operations.Load(t.Context(), out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.ReasonDriftBaselineMissing, r.ReasonCode)
	require.False(t, r.StartedAt.IsZero(), "the worker claimed it (RunStarted)")
	worker.stop(t)
}

// TestProjectionsCommands lists the projections and rebuilds the hub model from the
// command line on a database with a few runs.
func TestProjectionsCommands(t *testing.T) {
	t.Parallel()
	pool, env, a, seed := seededFresh(t)
	op := seed.Users["operator"]
	for i := range 3 {
		_, err := a.Operations.Start(t.Context(), operations.StartRequest{Type: "drift.generate", TenantID: seed.Tenants[i].ID,
			Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}})
		require.NoError(t, err)
	}
	// Sealing waits for every older transaction on the server (other test packages
	// included) to end; rebuild once all three runs are in the ordered log.
	require.Eventually(t, func() bool {
		_, err := a.Store.Seal(t.Context())
		require.NoError(t, err)
		var unsealed int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE global_position IS NULL`).Scan(&unsealed))
		return unsealed == 0
	}, 30*time.Second, 10*time.Millisecond)
	code, stdout, stderr := atlas(t.Context(), env, "projections", "rebuild", "hub_runs")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^rebuilt hub_runs v2: \d+ events in .+ \(\d+ events/s\)\n$`, stdout)
	require.Contains(t, stderr, "hub_runs [", "a progress bar")
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_runs`).Scan(&n))
	require.Equal(t, 3, n)

	code, stdout, stderr = atlas(t.Context(), env, "projections", "list")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^NAME\s+VERSION\s+CHECKPOINT\s+HEAD\s+LAG\n`, stdout)
	require.Regexp(t, `(?m)^hub_runs\s+2\s+(\d+)\s+(\d+)\s+0$`, stdout, "rebuilt: no lag")
	require.Regexp(t, `(?m)^run_timeline\s+1\s+0\s+[1-9]\d*\s+[1-9]\d*$`, stdout, "not rebuilt: the whole log to go")

	code, _, stderr = atlas(t.Context(), env, "projections", "rebuild", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown projection "nope"`)
	code, _, _ = atlas(t.Context(), env, "projections", "rebuild")
	require.Equal(t, 2, code)
	code, stdout, stderr = atlas(t.Context(), env, "projections", "rebuild", "--all")
	require.Equal(t, 0, code, stderr)
	for _, p := range monolith.Projections() {
		name := p.Name()
		require.Contains(t, stdout, "rebuilt "+name)
	}
	code, stdout, _ = atlas(t.Context(), env, "projections", "status")
	require.Equal(t, 0, code)
	require.Equal(t, len(monolith.Projections()), len(regexp.MustCompile(`(?m)\s0$`).FindAllString(stdout, -1)), "no projection lags: %s", stdout)
}

// TestDev runs `atlas dev` on a database of its own: it prints the hub URL and the
// demo logins (the platform users of /system too), serves the login pages, and the owner sees the demo history (48 finished
// runs) through the list API once the projections caught up.
func TestDev(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	env := map[string]string{"DATABASE_URL": pool.Config().ConnString()}
	dev := startAtlas(t, env, "dev", "--addr", "127.0.0.1:0")
	hubRe := regexp.MustCompile(`hub: +http://([^/]+)/admin/login`)
	tokenRe := regexp.MustCompile(`owner +owner@contoso-msp.demo +password \S+ +token (\S+)`)
	var addr, token string
	require.Eventually(t, func() bool {
		m, tm := hubRe.FindStringSubmatch(dev.stdout.String()), tokenRe.FindStringSubmatch(dev.stdout.String())
		if m != nil && tm != nil {
			addr, token = m[1], tm[1]
		}
		return addr != ""
	}, 120*time.Second, 20*time.Millisecond, "dev never printed the hub URL and logins: %s %s", dev.stdout.String(), dev.stderr.String())
	require.Contains(t, dev.stdout.String(), "graph:    https://graph-simulator.demo (simulator, in-process")
	// Its terminal log is human-readable text lines (no --log-format given).
	require.Contains(t, dev.stderr.String(), "msg=serving addr="+addr)
	for _, line := range strings.Split(strings.TrimSpace(dev.stderr.String()), "\n") {
		require.Regexp(t, `^time=\d{2}:\d{2}:\d{2}\.\d{3} level=(DEBUG|INFO|WARN|ERROR) msg=`, line)
	}

	resp, err := http.Get("http://" + addr + "/admin/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	// The /system panel and its demo platform users are printed too.
	require.Contains(t, dev.stdout.String(), "system:   http://"+addr+"/system/login")
	require.Regexp(t, `platform +platform@tenantatlas\.demo +password demo-platform-password`, dev.stdout.String())
	require.Regexp(t, `platform_viewer +platform-viewer@tenantatlas\.demo +password demo-platform-viewer-password`, dev.stdout.String())
	resp, err = http.Get("http://" + addr + "/system/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	// The demo history was made by running the operations against the simulator: thirteen
	// runs per demo tenant, every one succeeded, each linking the object it produced
	// (RunLinked), whose hub page answers 200 to the owner.
	var runs []any
	require.Eventually(t, func() bool {
		runs, _ = apiJSON(t, addr, token, "GET", "/api/v1/operations?limit=100")["runs"].([]any)
		return len(runs) == 39
	}, 30*time.Second, 50*time.Millisecond, "the owner sees the demo history")
	hub := hubSession(t, addr, "owner@contoso-msp.demo", "demo-owner-password")
	perType := map[string]int{}
	pages := map[string]bool{}
	findings := 0
	for _, r := range runs {
		id := r.(map[string]any)["id"].(string)
		detail := apiJSON(t, addr, token, "GET", "/api/v1/operations/"+id)
		require.Equal(t, "succeeded", detail["outcome"], detail)
		require.Equal(t, "demo", detail["sourceSurface"], detail)
		typ := detail["type"].(string)
		perType[typ]++
		if items, _ := detail["counts"].(map[string]any)["items"].(float64); typ == "drift.generate" && items > 0 {
			// The second drift generation found what changed in the simulator.
			findings++
			require.Equal(t, float64(2), items, detail)
			resp, err := hub.Get("http://" + addr + "/admin/t/" + detail["tenantId"].(string) + "/drift?run=" + id)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Contains(t, string(body), "(edited)")
			require.Contains(t, string(body), "Require BitLocker (added)")
		}
		events := apiJSON(t, addr, token, "GET", "/api/v1/operations/"+id+"/events")["events"].([]any)
		linked := 0
		for _, e := range events {
			if e.(map[string]any)["type"] == "RunLinked" {
				linked++
			}
		}
		require.NotZero(t, linked, "%s %s links the object it produced", typ, id)
		for _, rel := range detail["related"].([]any) {
			href := rel.(map[string]any)["href"].(string)
			if pages[href] {
				continue
			}
			pages[href] = true
			resp, err := hub.Get("http://" + addr + href)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, "%s of %s %s", href, typ, id)
		}
	}
	require.Equal(t, map[string]int{"provider.verify": 3, "inventory.sync": 9, "directory.groups.sync": 3, "directory.role_definitions.sync": 3,
		"drift.generate": 6, "backup_set.add_policies": 6, "backup_schedule.run_now": 3, "restore.preview": 3, "restore.execute": 3}, perType)
	require.Equal(t, 3, findings, "one drift report with findings per tenant")
	for _, kind := range []string{"/inventory/snapshots/", "/drift?run=", "/backups/", "/backups/schedules/", "/restores/"} {
		n := 0
		for href := range pages {
			if strings.Contains(href, kind) {
				n++
			}
		}
		require.NotZero(t, n, "a run links a page of %s", kind)
	}
	// The tenant's backups page shows the sets and its schedules page the demo schedule.
	tenant := runs[0].(map[string]any)["tenantId"].(string)
	for path, want := range map[string]string{"/backups": "Key policies (demo)", "/backups/schedules": monolith.DemoScheduleName} {
		resp, err := hub.Get("http://" + addr + "/admin/t/" + tenant + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, path)
		require.Contains(t, string(body), want, path)
	}

	// The demo tenants work against the in-process Graph simulator: an inventory sync
	// started through the API succeeds with counts.
	detail := runToEnd(t, addr, token, runs[0].(map[string]any)["tenantId"].(string), "inventory.sync")
	require.Equal(t, "succeeded", detail["outcome"], detail)
	require.NotZero(t, detail["counts"].(map[string]any)["total"], detail)
	dev.stop(t)
}

// TestServeDemoGraphWorksTheDemo: after `atlas seed demo`, `atlas serve --demo-graph`
// works the demo tenants' provider-backed runs against the in-process Graph simulator
// (their connections name its host; nothing goes to the network).
func TestServeDemoGraphWorksTheDemo(t *testing.T) {
	t.Parallel()
	_, env, _, seed := seededFresh(t)
	srv := startAtlas(t, env, "serve", "--addr", "127.0.0.1:0", "--demo-graph")
	detail := runToEnd(t, srv.servingAddr(t), seed.Users["operator"].Token, seed.Tenants[0].ID.String(), "directory.groups.sync")
	require.Equal(t, "succeeded", detail["outcome"], detail)
	require.Equal(t, float64(50), detail["counts"].(map[string]any)["created"], "the simulator's default directory: 50 groups")
	srv.stop(t)
}

// TestPlainServeAndWorkerRefuseTheDemoGraph: without --demo-graph, `atlas serve` blocks
// a start on a demo connection at the gate (provider_connection_invalid, a message
// naming the demo simulator; nothing dispatched), and `atlas worker` fails a run of such
// a connection that another process queued, with the same reason, before any request.
func TestPlainServeAndWorkerRefuseTheDemoGraph(t *testing.T) {
	t.Parallel()
	pool, env, _, seed := seededFresh(t)
	srv := startAtlas(t, env, "serve", "--addr", "127.0.0.1:0")
	addr, op := srv.servingAddr(t), seed.Users["operator"]
	out := apiJSON(t, addr, op.Token, "POST", "/api/v1/tenants/"+seed.Tenants[0].ID.String()+"/operations/directory.groups.sync/start")
	require.Equal(t, "blocked", out["status"], out)
	require.Equal(t, "provider_connection_invalid", out["reasonCode"], out)
	require.Contains(t, out["operatorMessage"], "demo Graph simulator", out)
	require.Contains(t, out["operatorMessage"], "--demo-graph", out)
	runID := out["run"].(map[string]any)["id"].(string)
	var types []string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT array_agg(event_type ORDER BY stream_version) FROM es_events WHERE stream_id = $1 AND event_type LIKE 'Run%'`,
		"run-"+runID).Scan(&types))
	require.Equal(t, []string{"RunQueued", "RunBlocked"}, types, "recorded as blocked, never dispatched")
	srv.stop(t)

	// A run queued by a process that serves the demo Graph, worked by one that does not.
	demo := newWorkingApp(&cli{getenv: func(k string) string { return env[k] }}, pool, slog.New(slog.DiscardHandler), true)
	queued, err := demo.Operations.Start(t.Context(), operations.StartRequest{Type: "directory.groups.sync", TenantID: seed.Tenants[1].ID,
		Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, SourceSurface: "cli"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, queued.Status, queued.OperatorMessage)
	worker := startAtlas(t, env, "worker")
	require.Eventually(t, func() bool {
		r, err := demo.Operations.Load(t.Context(), queued.Run.ID)
		require.NoError(t, err)
		return r.Terminal()
	}, 30*time.Second, 20*time.Millisecond, "the worker never finished the run: %s", worker.stderr.String())
	worker.stop(t)
	r, err := demo.Operations.Load(t.Context(), queued.Run.ID)
	require.NoError(t, err)
	require.Equal(t, operations.ReasonProviderConnectionInvalid, r.ReasonCode)
	require.Contains(t, r.Message, "demo Graph simulator")
}

// TestLegacyImport imports legacy rows per CONTRACT.md: one linked to an existing run,
// two becoming imported runs (the error text sanitized), one refused (unknown tenant,
// exit 1, the others imported). Importing again changes nothing; a malformed line
// imports nothing and names its line.
func TestLegacyImport(t *testing.T) {
	t.Parallel()
	pool, env, a, seed := seededFresh(t)
	op := seed.Users["operator"]
	out, err := a.Operations.Start(t.Context(), operations.StartRequest{Type: "inventory.sync", TenantID: seed.Tenants[0].ID,
		Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, SourceSurface: "cli"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
	tn := seed.Tenants[1].ID
	file := filepath.Join(t.TempDir(), "legacy.jsonl")
	lines := []string{
		fmt.Sprintf(`{"table":"inventory_sync_runs","id":11,"tenantId":%q,"status":"completed","startedAt":"2025-03-01T10:00:00Z","finishedAt":"2025-03-01T10:02:00Z","counts":{"total":4},"error":"","operationRunId":%q}`, seed.Tenants[0].ID, out.Run.ID),
		fmt.Sprintf(`{"table":"entra_group_sync_runs","id":12,"tenantId":%q,"status":"completed","startedAt":"2025-03-02T10:00:00Z","finishedAt":"2025-03-02T10:01:00Z","counts":{"total":250,"processed":250,"bogus":1},"error":"","operationRunId":null}`, tn),
		fmt.Sprintf(`{"table":"backup_schedule_runs","id":13,"tenantId":%q,"status":"failed","startedAt":"2025-03-03T02:00:00Z","finishedAt":"2025-03-03T02:00:05Z","counts":{},"error":"Graph said: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl","operationRunId":null}`, tn),
		`{"table":"inventory_sync_runs","id":14,"tenantId":"00000000-0000-4000-8000-000000000001","status":"completed","startedAt":"2025-03-04T10:00:00Z","finishedAt":"2025-03-04T10:00:01Z","counts":{},"error":"","operationRunId":null}`,
		// It names a run that was never migrated: kept as history only, mapped to no run.
		fmt.Sprintf(`{"table":"inventory_sync_runs","id":16,"tenantId":%q,"status":"failed","startedAt":"2025-03-05T10:00:00Z","finishedAt":"2025-03-05T10:00:09Z","counts":{"total":3},"error":"password=hunter2 rejected","operationRunId":%q}`, tn, uuid.New()),
	}
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	code, stdout, stderr := atlas(t.Context(), env, "legacy", "import", file)
	require.Equal(t, 1, code, stderr)
	require.Equal(t, "legacy import: 5 rows: 2 imported, 1 linked, 1 history only, 0 unchanged, 1 refused\n", stdout)
	require.Contains(t, stderr, "unknown tenant 00000000-0000-4000-8000-000000000001")
	code, stdout, _ = atlas(t.Context(), env, "legacy", "import", file)
	require.Equal(t, 1, code)
	require.Equal(t, "legacy import: 5 rows: 0 imported, 0 linked, 0 history only, 4 unchanged, 1 refused\n", stdout, "importing again changes nothing")
	var audits int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events
		WHERE event_type = 'AuditRecorded' AND data->>'action' = 'legacy.import'`).Scan(&audits))
	require.Equal(t, 4, audits, "one audit entry per row imported, linked or recorded, none for unchanged rows")

	linked, err := a.Operations.Load(t.Context(), out.Run.ID)
	require.NoError(t, err)
	require.Equal(t, []operations.LegacyRunLinked{{Table: "inventory_sync_runs", LegacyID: 11}}, linked.Legacy)
	groups, err := a.Operations.Load(t.Context(), legacy.RunID("entra_group_sync_runs", 12))
	require.NoError(t, err)
	require.Equal(t, "directory.groups.sync", groups.Type)
	require.Equal(t, operations.OutcomeSucceeded, groups.Outcome)
	require.Equal(t, operations.Counts{"total": 250, "processed": 250}, groups.Counts, "keys outside the closed set are dropped")
	backup, err := a.Operations.Load(t.Context(), legacy.RunID("backup_schedule_runs", 13))
	require.NoError(t, err)
	require.Equal(t, operations.OutcomeFailed, backup.Outcome)
	require.Len(t, backup.Failures, 1)
	require.NotContains(t, backup.Failures[0].Message, "eyJhbGci", "the token never reaches an event")

	// The mapping read model: every imported or linked row maps to its run; the
	// history-only row maps to none and keeps its sanitized fields.
	require.Eventually(t, func() bool {
		_, err := a.Runner.CatchUp(t.Context(), projections.LegacyRuns{})
		require.NoError(t, err)
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_legacy_runs`).Scan(&n))
		return n == 4
	}, 30*time.Second, 20*time.Millisecond)
	_, err = a.Runs.LegacyRun(t.Context(), "inventory_sync_runs", 16)
	require.ErrorIs(t, err, projections.ErrNoMapping)
	hist, err := a.Runs.LegacyHistoryRow(t.Context(), "inventory_sync_runs", 16)
	require.NoError(t, err)
	require.Equal(t, tn, hist.TenantID)
	require.Equal(t, "failed", hist.Status)
	require.Equal(t, map[string]int64{"total": 3}, hist.Counts)
	require.Equal(t, "operation_run_missing", hist.Unmapped)
	require.NotContains(t, hist.Error, "hunter2", "the error text is sanitized")
	_, err = a.Operations.Load(t.Context(), legacy.RunID("inventory_sync_runs", 16))
	require.ErrorIs(t, err, operations.ErrNotFound, "no run was made up for it")

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(lines[1], `"id":12`, `"id":15`, 1)+"\n{not json\n"), 0o600))
	code, _, stderr = atlas(t.Context(), env, "legacy", "import", bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "line 2")
	_, err = a.Operations.Load(t.Context(), legacy.RunID("entra_group_sync_runs", 15))
	require.ErrorIs(t, err, operations.ErrNotFound, "a malformed file imports nothing")
	code, _, _ = atlas(t.Context(), env, "legacy", "import")
	require.Equal(t, 2, code, "no file is bad usage")
}

// TestAuditReplayAndExport rebuilds a run and a tenant from events alone (the tenant as
// of before and after its connection was disabled) and exports the tenant's events as
// JSON Lines and CSV.
func TestAuditReplayAndExport(t *testing.T) {
	t.Parallel()
	_, env, a, seed := seededFresh(t)
	op := seed.Users["operator"]
	tenant := seed.Tenants[0].ID
	out, err := a.Operations.Start(t.Context(), operations.StartRequest{Type: "drift.generate", TenantID: tenant,
		Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, SourceSurface: "cli"})
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	before := time.Now().UTC().Truncate(time.Second).Add(time.Second) // RFC 3339 has whole seconds
	time.Sleep(time.Until(before) + 20*time.Millisecond)
	conn, err := a.Tenancy.DefaultConnection(t.Context(), tenant)
	require.NoError(t, err)
	require.NoError(t, a.Tenancy.SetConnectionStatus(t.Context(), "system:test", conn.ID, "disabled", "test"))

	code, stdout, stderr := atlas(t.Context(), env, "audit", "replay", "--run", out.Run.ID.String(), "--json")
	require.Equal(t, 0, code, stderr)
	var rp struct {
		Run struct {
			Type   string
			Status string
		} `json:"run"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rp))
	require.Equal(t, "drift.generate", rp.Run.Type)
	require.Equal(t, "queued", rp.Run.Status)
	require.Equal(t, "RunQueued", rp.Events[0].Type)

	replayTenant := func(args ...string) (int, map[string]any) {
		code, stdout, stderr := atlas(t.Context(), env, append([]string{"audit", "replay", "--tenant", tenant.String(), "--json"}, args...)...)
		require.Equal(t, 0, code, stderr)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &v))
		return code, v
	}
	_, then := replayTenant("--as-of", before.Format(time.RFC3339))
	_, now := replayTenant()
	status := func(v map[string]any) string {
		return v["connections"].([]any)[0].(map[string]any)["status"].(string)
	}
	require.Equal(t, "ok", status(then), "as of before the change")
	require.Equal(t, "disabled", status(now))
	require.Len(t, now["runs"], 1)
	require.Equal(t, "Contoso Retail", now["name"])
	require.Less(t, then["events"].(float64), now["events"].(float64))

	code, stdout, stderr = atlas(t.Context(), env, "audit", "export", "--tenant", tenant.String(), "--format", "jsonl")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, int(now["events"].(float64)), "the export holds the tenant's events, the replay counted the same")
	for _, l := range lines {
		var e struct {
			Metadata struct {
				TenantID string `json:"tenantId"`
			} `json:"metadata"`
			Position int64 `json:"position"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		require.Equal(t, tenant.String(), e.Metadata.TenantID)
		require.Positive(t, e.Position)
	}
	code, stdout, stderr = atlas(t.Context(), env, "audit", "export", "--tenant", tenant.String(), "--format", "csv")
	require.Equal(t, 0, code, stderr)
	records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, len(lines)+1, "a header and a row per event")
	require.Equal(t, "position", records[0][0])

	for _, args := range [][]string{{"audit", "replay"}, {"audit", "replay", "--run", "nope"},
		{"audit", "export", "--tenant", tenant.String(), "--format", "xml"}, {"audit", "replay", "--tenant", tenant.String(), "--as-of", "yesterday"}} {
		code, _, _ := atlas(t.Context(), env, args...)
		require.Equal(t, 2, code, args)
	}
	code, _, stderr = atlas(t.Context(), env, "audit", "replay", "--run", uuid.NewString())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "has no events")
}
