// Package web is the HTTP edge of TenantAtlas Ops: the Fiber app, its routes
// (routes.go), the JSON API, the server-rendered hub under /admin (sign-in and
// sessions, tenants, operations list and run viewer with its live SSE stream, legacy
// runs, the inventory, directory, drift, backup and provider connection pages), the platform operators'
// panel under /system (its own users, sign-in, cookie and key: system_*.go), /metrics
// and the health checks, with the templates and static assets embedded. Handlers stay thin: parse,
// authorize, call a module, render. No SQL lives here: run lists come from the
// projections' read models, everything else from the modules' Go APIs.
//
// Layering (README.md, "Architecture: layers and imports"): floor 6, the top but for
// cmd/. It may import modules/..., projections and eventstore; nothing but cmd/ imports
// web, and web never imports cmd/. architecture_test.go checks this.
package web

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/alerts"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/directory"
	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/onboarding"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/restore"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// Checker reports whether a dependency is ready (e.g. the database answers).
type Checker interface {
	// Ping returns nil when the dependency is usable.
	Ping(ctx context.Context) error
}

// Database is the primary database as the web layer uses it directly (a *pgxpool.Pool).
type Database interface {
	Checker
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Deps are what the web layer needs from the rest of the monolith.
type Deps struct {
	// Logger receives one line per failed request.
	Logger *slog.Logger
	// Database is checked by /readyz, and sends the reads of a page's chrome (the tenant
	// switcher, the notifications menu, the audit link) as one batch.
	Database Database
	// Tenancy authenticates and authorizes.
	Tenancy *tenancy.Service
	// Operations is the start gate and the run store.
	Operations *operations.Service
	// Runs answers run lists from the hub read model.
	Runs *projections.RunReader
	// ReadRuns answers the hub's and the API's run lists, the overview's figures and
	// the audit pages from a read replica (ATLAS_READ_DATABASE_URL); nil: Runs. Writes
	// (saved views, read marks), the start gate, a run's own page and the audit export
	// stay on the primary.
	ReadRuns *projections.RunReader
	// ReplicaLag measures how far the read replica is behind (nil: no replica); shown
	// on /readyz and as the atlas_read_replica_lag_* metrics.
	ReplicaLag func(ctx context.Context) (projections.ReplicaLag, error)
	// Inventory reads inventory snapshots and their items (the module's tables only).
	Inventory *inventory.Service
	// Directory reads the cached groups and role definitions and their sync state.
	Directory *directory.Service
	// Drift reads drift reports and their findings.
	Drift *drift.Service
	// Backup reads backup sets and their items.
	Backup *backup.Service
	// Restore holds restores of backup sets (nil: the restore routes answer 404).
	Restore *restore.Service
	// Onboarding holds the onboarding sessions of new tenants (spec 216, 086 T036).
	Onboarding *onboarding.Service
	// Alerts holds the workspaces' alert rules and their deliveries (nil: the alert
	// routes answer 404).
	Alerts *alerts.Service
	// Runbooks are /system's platform runbooks (nil: their routes answer 404).
	Runbooks *runbooks.Service
	// Events is the event log, read by the compliance pages: replay and the export's
	// chain head (nil: those routes answer 404).
	Events *eventstore.Store
	// Ready reports whether the read models have caught up (for /readyz); nil means yes.
	Ready func(ctx context.Context) error
	// Collectors are extra Prometheus collectors exported on /metrics.
	Collectors []prometheus.Collector
	// SessionKey signs hub session cookies and CSRF tokens; empty means a random key
	// per process (sessions then end when it restarts).
	SessionKey []byte
	// TrustedProxies are the IP addresses and CIDR ranges of the reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto are believed (the client IP, the Secure
	// cookie flag); empty means none: forwarded headers are then ignored.
	TrustedProxies []string
	// RequestTimeout bounds every request's context (0: 30 s); live streams are exempt.
	RequestTimeout time.Duration
	// extraRoutes, set by tests only, registers routes before the not-found answer.
	extraRoutes func(fiber.Router)
	// Streams configures the run viewer's live stream: its change source and caps.
	Streams StreamConfig
	// ExportBatch is how many runs a CSV export reads per query (0:
	// projections.ExportBatch); tests set it small to cross batch boundaries.
	ExportBatch int
}

// MaxRequestBody is the largest request body accepted (1 MiB); a larger one is a 413.
const MaxRequestBody = 1 << 20

// Server holds the Fiber app and its dependencies.
type Server struct {
	app        *fiber.App
	deps       Deps
	metrics    *metrics
	sessionKey []byte
	systemKey  []byte // signs /system cookies and CSRF tokens (systemKeyOf)
	pages      pages
	streams    *streamHub
}

// New builds the app with every route registered.
func New(deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{deps: deps, metrics: newMetrics(deps.Collectors...), sessionKey: deps.SessionKey, pages: mustParsePages()}
	if len(s.sessionKey) == 0 {
		s.sessionKey = make([]byte, 32)
		_, _ = rand.Read(s.sessionKey)
		deps.Logger.Warn("no session key configured: using a random one, hub sessions end when the process restarts")
	}
	s.systemKey = systemKeyOf(s.sessionKey)
	s.streams = newStreamHub(deps.Streams, s.loadRunState, deps.Logger)
	s.metrics.reg.MustRegister(s.streams.collectors()...)
	if deps.ReplicaLag != nil {
		s.metrics.reg.MustRegister(replicaLagCollectors(deps.ReplicaLag)...)
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "TenantAtlas Ops",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// A larger body is refused with 413 before it is read (its Content-Length), or
		// as soon as it passes the limit (chunked): no handler takes a body near this.
		BodyLimit: MaxRequestBody,
		// Forwarded headers count only from the configured proxies (none by default).
		EnableTrustedProxyCheck: true,
		TrustedProxies:          deps.TrustedProxies,
		ProxyHeader:             fiber.HeaderXForwardedFor,
		EnableIPValidation:      true,
	})
	s.routes()
	return s
}

// reads is the reader of run lists: the replica's when there is one.
func (s *Server) reads() *projections.RunReader {
	if s.deps.ReadRuns != nil {
		return s.deps.ReadRuns
	}
	return s.deps.Runs
}

// App returns the Fiber app (for tests and for listening).
func (s *Server) App() *fiber.App { return s.app }

// apiError is the body of every JSON error: {"error":{"code","message"}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleError maps errors to JSON answers and logs unexpected ones once. The message of
// an unexpected error never reaches the client (it may carry SQL or internals).
func (s *Server) handleError(c *fiber.Ctx, err error) (rerr error) {
	defer func() { // the error page itself must not take the process down either
		if r := recover(); r != nil {
			s.logPanic(c, r)
			c.Response().Reset()
			setSecurityHeaders(c)
			rerr = c.Status(fiber.StatusInternalServerError).SendString("internal error")
		}
	}()
	setSecurityHeaders(c)
	if done, rerr := s.handleStartRefusal(c, err); done {
		return rerr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s.deps.Logger.Warn("request deadline exceeded", "method", c.Method(), "path", failure.Sanitize(c.Path()))
		err = fiber.NewError(fiber.StatusServiceUnavailable, "The request took too long; try again in a moment.")
	}
	if mapped, ok := operationsError(err); ok {
		err = mapped
	} else if moduleNotFound(err) {
		err = fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if strings.HasPrefix(c.Path(), "/admin") {
		return s.renderError(c, err)
	}
	if isSystemPath(c.Path()) {
		return s.renderSystemError(c, err)
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return c.Status(fe.Code).JSON(apiError{Error: apiErrorBody{Code: codeFor(fe.Code), Message: fe.Message}})
	}
	s.logFailure(c, err)
	return c.Status(fiber.StatusInternalServerError).JSON(apiError{Error: apiErrorBody{Code: "internal_error", Message: "internal error"}})
}

// moduleNotFound reports whether err is a reading module's "no such object" (a
// snapshot, a cached group, a drift report, a backup set or item): a 404.
func moduleNotFound(err error) bool {
	return errors.Is(err, inventory.ErrNotFound) || errors.Is(err, directory.ErrNotFound) ||
		errors.Is(err, drift.ErrNotFound) || errors.Is(err, backup.ErrNotFound)
}

func codeFor(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusForbidden:
		return "forbidden"
	case fiber.StatusUnauthorized:
		return "unauthorized"
	case fiber.StatusUnprocessableEntity:
		return "unprocessable"
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusBadRequest:
		return "bad_request"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusServiceUnavailable:
		return "unavailable"
	default:
		return "error"
	}
}
