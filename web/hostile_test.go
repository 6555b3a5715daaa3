package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/web"
)

// edgeHub serves the seeded system like startHub, with its logs captured and its deps
// adjusted by tune (trusted proxies, a request timeout, test-only routes).
func edgeHub(t *testing.T, tune func(*web.Deps)) (*hub, *web.Server, *monotest.Buffer) {
	t.Helper()
	pool := pgtest.DB(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	seedOnce.Do(func() { seed, seedErr = monolith.SeedDemo(context.Background(), a) })
	require.NoError(t, seedErr)
	logs := &monotest.Buffer{}
	deps := web.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Database: pool, Tenancy: a.Tenancy, Operations: a.Operations,
		Runs: a.Runs, Inventory: a.Inventory, Directory: a.Directory, Drift: a.Drift, Backup: a.Backup, Restore: a.Restore, Onboarding: a.Onboarding, Alerts: a.Alerts, Runbooks: a.Runbooks, Events: a.Store, Ready: a.Ready, Collectors: a.Collectors()}
	if tune != nil {
		tune(&deps)
	}
	srv := web.New(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.App().ShutdownWithTimeout(5 * time.Second) })
	return &hub{base: "http://" + ln.Addr().String(), seed: seed, app: a}, srv, logs
}

// rawRequest sends method to an already-escaped path and raw query, byte for byte (no
// client-side normalization), with the browser's cookies and, on /api, the owner's token.
func (b *browser) rawRequest(ctx context.Context, method, path, rawQuery, token string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.h.base+"/", body)
	if err != nil {
		return nil, err
	}
	req.URL.Opaque, req.URL.RawQuery = path, rawQuery // sent as they are
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasPrefix(path, "/api/") && token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return b.client.Do(req)
}

// hostilePathValues replace one path parameter at a time (already path-escaped).
var hostilePathValues = []string{
	"99999999999999999999", "9223372036854775807", "-9223372036854775808", "-1", "0", "abc", "%00", "%FF%FE",
	strings.Repeat("a", 2000), "00000000-0000-0000-0000-000000000000", "%7B" + "6ba7b810-9dad-11d1-80b4-00c04fd430c8" + "%7D",
	"6ba7b8109dad11d180b400c04fd430c8", "..%2F..%2Fetc%2Fpasswd", "%25", "%E2%80%AE", "%27%3B--",
}

// hostileQueryValues are given to every query parameter name, one name at a time
// (already query-escaped): out-of-range and malformed numbers, times, ids and cursors.
var hostileQueryValues = []string{
	"99999999999999999999", "9223372036854775807", "-1", "0", "abc", "2026-13-45T99:99:99Z", "0000-01-01T00:00:00Z",
	"MjAyNi0wMS0wMVQwMDowMDowMFp8bm90LWEtdXVpZA", // base64url of "2026-01-01T00:00:00Z|not-a-uuid"
	"00000000-0000-0000-0000-000000000000", "%2E%2E%2F",
}

// hostileQueryNames are the parameters routes read (or will), numeric, cursor, time, id
// and text alike.
var hostileQueryNames = []string{"page", "limit", "cursor", "since", "until", "run", "tenant", "type", "bucket",
	"range", "q", "after_type", "after_id", "asOf", "actor", "action", "outcome", "format"}

// hostileRawQueries are whole query strings: repeated parameters, binary and control
// characters, broken escapes, very long values, 5-digit years, signs.
var hostileRawQueries = []string{
	"page=1&page=2", "limit=1&limit=99999999999999999999", "cursor=a&cursor=b", "tenant=&tenant=x",
	"q=%00", "page=%00", "cursor=%FF%FE", "after_id=%0A", "type=%E2%80%AE", "q=" + strings.Repeat("x", 3000),
	"since=10000-01-01T00:00:00Z&until=9999-12-31T23:59:59%2B14:00", "limit=%2B5", "page=1e9", "page=0x10",
	"%zz=1", "page=%", "=1", "&&&", "page", "page[]=1", "a=" + strings.Repeat("%00", 300),
}

// route is one route the app registers: its method and path pattern.
type route struct{ method, path string }

// appRoutes are the routes srv's app registers (HEAD, which Fiber adds to every GET,
// left out), sorted: the one enumeration the tests that walk every route share.
func appRoutes(t *testing.T, srv *web.Server) []route {
	t.Helper()
	var routes []route
	seen := map[route]bool{}
	for _, r := range srv.App().GetRoutes(true) {
		rt := route{r.Method, r.Path}
		if r.Method == fiber.MethodHead || seen[rt] {
			continue
		}
		seen[rt] = true
		routes = append(routes, rt)
	}
	require.Greater(t, len(routes), 20, "the app's routes")
	sort.Slice(routes, func(i, j int) bool { return routes[i].path+routes[i].method < routes[j].path+routes[j].method })
	return routes
}

// TestHostileParametersNeverFail runs hostile path and query values over every route the
// app registers (read from the app itself, so a new route is covered without editing
// this test), signed in as an owner and, on /system, as a platform user with every
// capability: no answer is a 5xx, errors are JSON on /api, no
// panic or internal error is logged, and the process keeps serving. On the code before
// the recover middleware and params.go, /admin/tenants?page=9223372036854775807 panicked
// and ended the test binary (and `atlas serve`).
func TestHostileParametersNeverFail(t *testing.T) {
	t.Parallel()
	h, srv, logs := edgeHub(t, nil)
	owner := newBrowser(t, h)
	owner.login("owner")
	owner.platformLogin("platform") // /system routes too run with a session (its own cookie)
	token := h.seed.Users["owner"].Token
	tenant := h.seed.Tenants[0].ID.String()
	code, started := h.call(t, "owner", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start", `{"context":{"baseline":"hostile"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)
	_, page := owner.get("/admin/t/" + tenant + "/operations")
	csrfToken := csrf(t, page)

	conn, err := h.app.Tenancy.DefaultConnection(t.Context(), h.seed.Tenants[0].ID)
	require.NoError(t, err)
	valid := map[string]string{"tenant": tenant, "session": uuid.NewString(), "run": runID, "snapshot": uuid.NewString(), "set": uuid.NewString(),
		"table": legacy.Tables()[0], "id": "1", "notification": uuid.NewString(), "runbook": "findings.lifecycle.backfill", "schedule": uuid.NewString(),
		"connection": conn.ID.String(), "operation": "provider.verify", "group": "00000000-0000-0000-0000-000000000001",
		"restore": uuid.NewString(), "workspace": h.seed.Workspace.String()}
	validFor := func(path, param string) string {
		if param == "type" {
			if strings.Contains(path, "/items/") {
				return inventory.PolicyTypes[0]
			}
			return "drift.generate"
		}
		v, ok := valid[param]
		require.True(t, ok, "route %s has a parameter %q this test has no valid value for: add one", path, param)
		return v
	}

	routes := appRoutes(t, srv)
	// The assets are a filesystem middleware, not a route.
	routes = append(routes, route{"GET", "/admin/static/app.css"}, route{"GET", "/admin/static/run.js"},
		route{"GET", "/admin/static/live.js"}, route{"GET", "/admin/static/keys.js"})
	sort.Slice(routes, func(i, j int) bool { return routes[i].path+routes[i].method < routes[j].path+routes[j].method })

	fill := func(path string, hostile map[string]string) string {
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if name, ok := strings.CutPrefix(p, ":"); ok {
				name = strings.TrimSuffix(name, "?")
				if v, ok := hostile[name]; ok {
					parts[i] = v
				} else {
					parts[i] = url.PathEscape(validFor(path, name))
				}
			}
		}
		return strings.Join(parts, "/")
	}
	params := func(path string) []string {
		var out []string
		for _, p := range strings.Split(path, "/") {
			if name, ok := strings.CutPrefix(p, ":"); ok {
				out = append(out, strings.TrimSuffix(name, "?"))
			}
		}
		return out
	}

	// check sends one hostile request and says what is wrong with its answer (nil when
	// nothing is). It runs on several goroutines, so it reports instead of failing.
	check := func(r route, path, rawQuery string) error {
		var body io.Reader
		contentType := ""
		if r.method == fiber.MethodPost {
			if strings.HasPrefix(path, "/api/") {
				body, contentType = strings.NewReader(`{}`), fiber.MIMEApplicationJSON
			} else {
				body, contentType = strings.NewReader(url.Values{"_csrf": {csrfToken}}.Encode()), fiber.MIMEApplicationForm
			}
		}
		where := fmt.Sprintf("%s %.200s?%.200s", r.method, path, rawQuery)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		resp, err := owner.rawRequest(ctx, r.method, path, rawQuery, token, body, contentType)
		if err != nil {
			return fmt.Errorf("%s: request failed: %.300s", where, err.Error())
		}
		defer resp.Body.Close()
		raw := []byte{} // a live stream: its headers are the answer
		if !strings.HasSuffix(path, "/stream") || resp.StatusCode != http.StatusOK {
			if raw, err = io.ReadAll(resp.Body); err != nil {
				return fmt.Errorf("%s: reading the answer: %w", where, err)
			}
		}
		// Readiness may honestly answer 503 (this hub runs no sealer, so a slow run of the
		// suite can find sealing stalled); every other route must not fail.
		if resp.StatusCode >= 500 && !(path == "/readyz" && resp.StatusCode == http.StatusServiceUnavailable) {
			return fmt.Errorf("%s answered %d: %.500s", where, resp.StatusCode, raw)
		}
		if resp.StatusCode >= 400 {
			for _, leak := range []string{"goroutine", "SQLSTATE", "panic", ".go:"} {
				if strings.Contains(string(raw), leak) {
					return fmt.Errorf("%s: the answer shows %q: %.500s", where, leak, raw)
				}
			}
		}
		if strings.HasPrefix(path, "/api/") && resp.StatusCode >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" {
				return fmt.Errorf("%s: want a JSON error with a code, got %.300s", where, raw)
			}
		}
		return nil
	}
	// hit sends every hostile request of one route, in order, until one fails.
	hit := func(r route) (int, error) {
		n := 0
		send := func(path, rawQuery string) error { n++; return check(r, path, rawQuery) }
		// Every path parameter hostile in turn, the rest valid.
		for _, name := range params(r.path) {
			for _, v := range hostilePathValues {
				if err := send(fill(r.path, map[string]string{name: v}), ""); err != nil {
					return n, err
				}
			}
		}
		// Valid path, every query parameter hostile in turn, then whole hostile queries.
		path := fill(r.path, nil)
		for _, name := range hostileQueryNames {
			for _, v := range hostileQueryValues {
				if err := send(path, name+"="+v); err != nil {
					return n, err
				}
			}
		}
		for _, q := range hostileRawQueries {
			if err := send(path, q); err != nil {
				return n, err
			}
		}
		return n, nil
	}

	// The routes go to a few goroutines (each route's requests in order), which ran
	// the suite's longest test in a third of its time; the session's logout is last,
	// alone.
	var logout *route
	queue := make(chan route)
	var requests atomic.Int64
	var failures []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for r := range queue {
				n, err := hit(r)
				requests.Add(int64(n))
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range routes {
		if r.path == "/admin/logout" {
			logout = &r // it ends the session every other request uses: last
			continue
		}
		for _, name := range params(r.path) { // a parameter this test has no value for fails here
			_ = validFor(r.path, name)
		}
		queue <- r
	}
	close(queue)
	wg.Wait()
	require.Empty(t, failures)
	require.NotNil(t, logout)
	require.NoError(t, check(*logout, "/admin/logout", "page=99999999999999999999&page=-1"))
	t.Logf("%d hostile requests over %d routes", requests.Load()+1, len(routes))

	// Still serving, and nothing failed inside.
	code, _ = h.call(t, "owner", "GET", "/api/v1/operations?limit=1", "")
	require.Equal(t, 200, code)
	require.NotContains(t, logs.String(), "request panicked")
	require.NotContains(t, logs.String(), "request failed")
}

// TestHostileTenantPageNumbers pins the crash the issue names: a page number whose offset
// overflows answers 422 (or an empty page), and the next request is served.
func TestHostileTenantPageNumbers(t *testing.T) {
	t.Parallel()
	h, _, _ := edgeHub(t, nil)
	owner := newBrowser(t, h)
	owner.login("owner")
	for _, c := range []struct {
		query string
		want  int
	}{
		{"page=9223372036854775807", 422}, // (page-1)*100 wrapped to -200: a slice panic
		{"page=92233720368547759", 422}, {"page=99999999999999999999", 422}, {"page=-1", 422}, {"page=0", 422},
		{"page=abc", 422}, {"page=1&page=2", 400}, {"page=1000000", 200}, {"page=2", 200},
	} {
		resp, body := owner.get("/admin/tenants?" + c.query)
		require.Equal(t, c.want, resp.StatusCode, "%s: %.300s", c.query, body)
	}
	resp, _ := owner.get("/admin/tenants")
	require.Equal(t, 200, resp.StatusCode)
}

// TestHostileAPIListParameters: the API list bounds limit (clamped above 200, 422 below
// 1 or malformed), and refuses repeated, binary and malformed filters with a JSON 4xx.
func TestHostileAPIListParameters(t *testing.T) {
	t.Parallel()
	h, _, _ := edgeHub(t, nil)
	for q, want := range map[string]int{
		"limit=99999999999999999999": 200, "limit=9223372036854775807": 200, "limit=1000": 200, "limit=1": 200,
		"limit=0": 422, "limit=-1": 422, "limit=abc": 422, "limit=1&limit=2": 400,
		"cursor=%00": 400, "cursor=abc%2F": 422, "cursor=" + strings.Repeat("A", 300): 422, "cursor=YWJj": 422,
		"since=2026-13-45T99:99:99Z": 422, "until=10000-01-01T00:00:00Z": 422, "since=0001-01-01T00:00:00Z": 200,
		"tenant=abc": 422, "tenant=%7B6ba7b810-9dad-11d1-80b4-00c04fd430c8%7D": 422, "q=%FF": 400, "bucket=%0A": 400,
	} {
		code, body := h.call(t, "owner", "GET", "/api/v1/operations?"+q, "")
		require.Equal(t, want, code, "%s: %v", q, body)
	}
	code, body := h.call(t, "owner", "GET", "/api/v1/notifications?limit=99999999999999999999", "")
	require.Equal(t, 200, code, "%v", body)
	code, _ = h.call(t, "owner", "GET", "/api/v1/notifications?limit=-5", "")
	require.Equal(t, 422, code)
}

// TestPanicIsA500AndTheServerLives: a handler that panics answers 500 (the JSON error on
// /api, the error page on /admin) with the security headers, logs one sanitized line
// with the stack, and the server answers the next request.
func TestPanicIsA500AndTheServerLives(t *testing.T) {
	t.Parallel()
	boom := func(c *fiber.Ctx) error {
		c.Status(fiber.StatusTeapot).Set("X-Half", "written") // a half-written answer goes
		panic("boom: password=hunter2 at the handler")
	}
	h, _, logs := edgeHub(t, func(d *web.Deps) {
		*d = web.WithTestRoutes(*d, func(r fiber.Router) {
			r.Get("/api/v1/test/panic", boom)
			r.Get("/admin/test/panic", boom)
		})
	})

	req, err := http.NewRequestWithContext(t.Context(), "GET", h.base+"/api/v1/test/panic", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.seed.Users["owner"].Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 500, resp.StatusCode, "%s", raw)
	require.JSONEq(t, `{"error":{"code":"internal_error","message":"internal error"}}`, string(raw))
	require.Empty(t, resp.Header.Get("X-Half"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	owner := newBrowser(t, h)
	owner.login("owner")
	resp, body := owner.get("/admin/test/panic")
	require.Equal(t, 500, resp.StatusCode)
	require.Contains(t, body, "Something went wrong")
	require.NotContains(t, body, "boom")
	require.NotContains(t, body, "goroutine")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")

	// One line per panic, with the stack, sanitized; no second "request failed" line.
	var panics int
	for line := range strings.Lines(logs.String()) {
		if !strings.Contains(line, "request panicked") {
			continue
		}
		panics++
		var rec struct {
			Panic string   `json:"panic"`
			Stack []string `json:"stack"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		require.Contains(t, rec.Panic, "boom")
		require.NotEmpty(t, rec.Stack)
		require.Contains(t, strings.Join(rec.Stack, "\n"), "hostile_test.go")
	}
	require.Equal(t, 2, panics, "%s", logs.String())
	require.NotContains(t, logs.String(), "hunter2")
	require.NotContains(t, logs.String(), "request failed")

	// The process goes on serving.
	code, _ := h.call(t, "owner", "GET", "/api/v1/operations?limit=1", "")
	require.Equal(t, 200, code)
	resp, _ = owner.get("/admin/operations")
	require.Equal(t, 200, resp.StatusCode)
}

// TestRequestDeadline: every request runs under the configured deadline (a handler that
// waits past it answers 503), except live streams (paths ending in /stream).
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	wait := func(c *fiber.Ctx) error {
		if _, ok := c.UserContext().Deadline(); !ok {
			return c.JSON(fiber.Map{"deadline": false})
		}
		<-c.UserContext().Done()
		return c.UserContext().Err()
	}
	h, _, logs := edgeHub(t, func(d *web.Deps) {
		d.RequestTimeout = 200 * time.Millisecond
		*d = web.WithTestRoutes(*d, func(r fiber.Router) {
			r.Get("/api/v1/test/slow", wait)
			r.Get("/api/v1/test/slow/stream", wait)
		})
	})
	start := time.Now()
	code, body := h.call(t, "owner", "GET", "/api/v1/test/slow", "")
	require.Equal(t, 503, code, "%v", body)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, logs.String(), "request deadline exceeded")

	code, body = h.call(t, "owner", "GET", "/api/v1/test/slow/stream", "")
	require.Equal(t, 200, code)
	require.Equal(t, false, body["deadline"])
}
