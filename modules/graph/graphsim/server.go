// Package graphsim is a Microsoft Graph simulator: a plain net/http server that speaks
// Graph's wire format for the contract registry's endpoints (graph.Types), so that
// `atlas dev`, `atlas graph-sim` and the tests run without a tenant.
//
// What it serves:
//   - POST /{tenant}/oauth2/v2.0/token (client_credentials) → a bearer token bound to
//     the tenant it was issued for (signed, so a restarted simulator with the same seed
//     and secret still accepts it);
//   - GET /{v1.0|beta}{contract path} → a page {"@odata.context", "value", "@odata.nextLink"}
//     with $select, $top (capped at Config.PageSize) and an opaque $skiptoken;
//   - GET /{v1.0|beta}{contract path}/{id} → the full object (policies carry nested settings);
//   - Graph-style errors {"error":{"code","message","innerError":{...}}}.
//
// Data is deterministic per (Config.Seed, tenant id). Faults (throttling, 503 bursts,
// missing consent, denied permissions, latency, leaking error bodies) are switched per
// tenant or for all tenants with SetFaults.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0: it imports only
// graph and must not import the event store or any other module, so any test or command
// can run it.
package graphsim

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantatlas/ops/modules/graph"
)

// Config sizes the simulated tenants and sets the accepted credentials.
type Config struct {
	// Seed makes the generated data deterministic (with the tenant id).
	Seed int64
	// Groups is the number of groups per tenant (0: 50; negative: none).
	Groups int
	// RoleDefinitions is the number of role definitions per tenant (0: 20; negative: none).
	RoleDefinitions int
	// Policies is the number of policies per policy type per tenant (0: 10; negative: none).
	Policies int
	// PageSize caps $top and is the page size when $top is absent (default 100).
	PageSize int
	// ClientSecret is the one accepted client secret (default "sim-secret").
	ClientSecret string
	// TokenTTL is the lifetime of issued tokens (default 3599 s).
	TokenTTL time.Duration
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// Now is the clock for token expiry; nil is time.Now.
	Now func() time.Time
	// Control serves ControlPath: PUT with a Faults JSON body (Go field names, Latency
	// in nanoseconds) replaces the faults of ?tenant= ("" = every tenant), as SetFaults
	// does; DELETE clears every fault. For a simulator in another process (`atlas soak`
	// switches its faults this way); off by default.
	Control bool
}

// ControlPath is the fault switch of a simulator started with Config.Control.
const ControlPath = "/_sim/faults"

// DefaultClientSecret is the secret the simulator accepts when Config.ClientSecret is "".
const DefaultClientSecret = "sim-secret"

func (c Config) withDefaults() Config {
	c.Groups = sizeOr(c.Groups, 50)
	c.RoleDefinitions = sizeOr(c.RoleDefinitions, 20)
	c.Policies = sizeOr(c.Policies, 10)
	if c.PageSize <= 0 {
		c.PageSize = 100
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 3599 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// sizeOr is n, def when n is 0, and 0 when n is negative ("none").
func sizeOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// Faults are switchable failures. SetFaults replaces a tenant's (or everyone's) faults.
type Faults struct {
	// Throttle answers the next N data requests with 429 and Retry-After: RetryAfter.
	Throttle int
	// RetryAfter is the Retry-After header value of throttled answers (seconds or an
	// HTTP date); "" sends none.
	RetryAfter string
	// Unavailable answers the next N data requests with 503 (after any Throttle).
	Unavailable int
	// ThrottleEach answers every distinct data request (path and query) with 429 this
	// many times before serving it: a storm over every page, deterministic however the
	// client pipelines its requests.
	ThrottleEach int
	// ConsentMissing makes the token endpoint answer 400 invalid_grant (AADSTS65001)
	// and data requests with an already issued token answer 401 with an AADSTS65001 body.
	ConsentMissing bool
	// PermissionDenied lists the object types (registry names) answering 403
	// Authorization_RequestDenied.
	PermissionDenied []string
	// Latency delays every answer (token and data).
	Latency time.Duration
	// LeakToken makes error bodies echo the bearer token and the client secret, to prove
	// that clients never pass error bodies on.
	LeakToken bool
	// WriteThrottle lists write keys (a PATCH's object id, a POST's displayName or name)
	// whose first write answers 429 with Retry-After: RetryAfter; the next one is served.
	WriteThrottle []string
	// WriteFail lists write keys whose every write answers 400 Request_BadRequest.
	WriteFail []string
}

// Server is the simulator, an http.Handler. Start runs it on loopback.
type Server struct {
	// URL is the base URL when started with Start ("" for New).
	URL string

	cfg     Config
	key     []byte
	httpSrv *httptest.Server

	mu      sync.Mutex
	tenants map[string]*tenantData
	faults  map[string]*Faults
	stormed map[string]int // ThrottleEach: 429s answered per request (path?query)

	requests      atomic.Int64
	tokenRequests atomic.Int64
	pathMu        sync.Mutex
	paths         map[string]int64
}

// New returns a simulator handler for cfg (unset fields take their defaults).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:     cfg,
		key:     signingKey(cfg),
		tenants: map[string]*tenantData{},
		faults:  map[string]*Faults{},
		stormed: map[string]int{},
		paths:   map[string]int64{},
	}
}

// Start runs a new simulator on a loopback port; Close stops it.
func Start(cfg Config) *Server {
	s := New(cfg)
	s.httpSrv = httptest.NewServer(s)
	s.URL = s.httpSrv.URL
	return s
}

// Close stops a simulator started with Start.
func (s *Server) Close() {
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
}

// Config returns the configuration in use, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Requests is the number of Graph API requests (everything but the token endpoint) served.
func (s *Server) Requests() int64 { return s.requests.Load() }

// TokenRequests is the number of token endpoint requests served.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// PathRequests is the number of requests served for one URL path (query excluded),
// e.g. "/v1.0/groups".
func (s *Server) PathRequests(path string) int64 {
	s.pathMu.Lock()
	defer s.pathMu.Unlock()
	return s.paths[path]
}

// ResetCounters sets every request counter back to zero.
func (s *Server) ResetCounters() {
	s.requests.Store(0)
	s.tokenRequests.Store(0)
	s.pathMu.Lock()
	clear(s.paths)
	s.pathMu.Unlock()
}

// SetFaults replaces the faults of tenant ("" = every tenant without faults of its own).
func (s *Server) SetFaults(tenant string, f Faults) {
	f.PermissionDenied = slices.Clone(f.PermissionDenied)
	f.WriteThrottle = slices.Clone(f.WriteThrottle)
	f.WriteFail = slices.Clone(f.WriteFail)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[tenant] = &f
	clear(s.stormed)
}

// faultsFor returns the live faults entry that applies to tenant (nil when none); the
// caller holds s.mu.
func (s *Server) faultsFor(tenant string) *Faults {
	if f, ok := s.faults[tenant]; ok && tenant != "" {
		return f
	}
	return s.faults[""]
}

// snapshotFaults returns a copy of the faults for tenant.
func (s *Server) snapshotFaults(tenant string) Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.faultsFor(tenant); f != nil {
		return *f
	}
	return Faults{}
}

// takeCountedFault consumes one Throttle, ThrottleEach or Unavailable answer of tenant
// for the request with the given path and query: 429, 503 or 0.
func (s *Server) takeCountedFault(tenant, request string) (status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faultsFor(tenant)
	switch {
	case f == nil:
		return 0, ""
	case f.ThrottleEach > 0 && s.stormed[request] < f.ThrottleEach:
		s.stormed[request]++
		return http.StatusTooManyRequests, f.RetryAfter
	case f.Throttle > 0:
		f.Throttle--
		return http.StatusTooManyRequests, f.RetryAfter
	case f.Unavailable > 0:
		f.Unavailable--
		return http.StatusServiceUnavailable, ""
	}
	return 0, ""
}

// takeWriteThrottle reports whether the write with key answers 429 now: once per key
// listed in the tenant's WriteThrottle.
func (s *Server) takeWriteThrottle(tenant, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faultsFor(tenant)
	if f == nil || !slices.Contains(f.WriteThrottle, key) || s.stormed["write:"+key] > 0 {
		return false
	}
	s.stormed["write:"+key]++
	return true
}

// ServeHTTP routes token and Graph requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.pathMu.Lock()
	s.paths[r.URL.Path]++
	s.pathMu.Unlock()
	s.cfg.Logger.Debug("graphsim request", "method", r.Method, "path", r.URL.Path)
	if s.cfg.Control && r.URL.Path == ControlPath {
		s.serveControl(w, r)
		return
	}
	if tenant, ok := tokenPath(r.URL.Path); ok {
		s.tokenRequests.Add(1)
		s.serveToken(w, r, tenant)
		return
	}
	s.requests.Add(1)
	s.serveGraph(w, r)
}

// serveControl switches faults (Config.Control).
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPut:
		var f Faults
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&f); err != nil {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "The body is not a Faults object.", nil)
			return
		}
		s.SetFaults(r.URL.Query().Get("tenant"), f)
	case http.MethodDelete:
		s.mu.Lock()
		s.faults = map[string]*Faults{}
		s.mu.Unlock()
	default:
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "PUT or DELETE.", nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// tokenPath matches "/{tenant}/oauth2/v2.0/token".
func tokenPath(p string) (string, bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) == 4 && parts[0] != "" && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" {
		return parts[0], true
	}
	return "", false
}

// route is a Graph request resolved against the registry.
type route struct {
	contract graph.Contract
	id       string // "" for the collection
}

// resolve maps "/v1.0/groups" or "/beta/deviceManagement/deviceConfigurations/{id}" to
// a registry contract.
func resolve(p string) (route, bool) {
	for _, c := range graph.Types() {
		prefix := "/" + c.APIVersion + c.Path
		if p == prefix || p == prefix+"/" {
			return route{contract: c}, true
		}
		if rest, ok := strings.CutPrefix(p, prefix+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
			return route{contract: c, id: rest}, true
		}
	}
	return route{}, false
}

// sleep waits d or until the request ends.
func sleep(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// Serve runs a simulator for cfg on ln until ctx ends, then shuts it down (waiting up to
// five seconds for requests in flight). It logs the base URL with cfg.Logger.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	s := New(cfg)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	s.cfg.Logger.Info("graph simulator listening", "url", url, "seed", s.cfg.Seed,
		"groups", s.cfg.Groups, "policies", s.cfg.Policies, "page_size", s.cfg.PageSize)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.cfg.Logger.Info("graph simulator stopped", "url", url)
	return nil
}
