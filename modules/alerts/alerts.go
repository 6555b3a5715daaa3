// Package alerts sends workspace alerts: an owner's alert rules (which terminal runs to
// report, and to which webhook), one delivery per matching run, made by a follower of
// the event log, and a dispatcher that POSTs each delivery signed with the rule's
// secret (HMAC-SHA256 over timestamp + "." + body), retrying with exponential backoff
// and jitter until the receiver answers 2xx or a bound is reached, every attempt
// recorded. It owns the al_* tables; a rule's secret lives in al_rules only, never in
// an event, a log line, a read model or an answer.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3: it imports the
// event store, tenancy and audit (floor 1), operations (floor 2: its run events, Load,
// the sanitizer) and graph (the loopback rule of endpoints); it must not import the run
// types' modules, projections, monolith, web or cmd/.
package alerts

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/eventstore/sqlfile"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// The event types a rule may subscribe to: a run that ended failed, or partially
// succeeded. They cover terminal runs of every type, tenant-scoped or workspace-scoped
// (a platform runbook's all-tenants run has no tenant).
const (
	EventRunFailed             = "operations.run.failed"
	EventRunPartiallySucceeded = "operations.run.partially_succeeded"
)

// EventTypes lists the event types a rule may name.
func EventTypes() []string { return []string{EventRunFailed, EventRunPartiallySucceeded} }

// Delivery states.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed" // given up after the bound
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of t + "." + body>".
const SignatureHeader = "X-Atlas-Signature"

// DeliveryHeader carries the delivery id: a receiver that saw it already can drop a
// repeat (a process that died after the POST but before recording it sends it again).
const DeliveryHeader = "X-Atlas-Delivery"

// Errors of the module; web/ maps them to statuses.
var (
	// ErrNotFound: the caller is a member of no workspace (or not of the one named): 404.
	ErrNotFound = errors.New("alerts: not found")
	// ErrForbidden: the caller is a member without workspace.manage: 403.
	ErrForbidden = errors.New("alerts: forbidden")
)

// AlertRuleCreated records a new rule. It never holds the secret, only that one is set.
type AlertRuleCreated struct {
	RuleID      uuid.UUID   `json:"ruleId"`
	WorkspaceID uuid.UUID   `json:"workspaceId"`
	Events      []string    `json:"events"`
	URL         string      `json:"url"`
	Types       []string    `json:"types"`
	Tenants     []uuid.UUID `json:"tenants"`
	SecretSet   bool        `json:"secretSet"`
}

// EventType implements eventstore.Event.
func (AlertRuleCreated) EventType() string { return "AlertRuleCreated" }

// StreamType is the stream type of rules: "alertrule-<id>".
const StreamType = "alertrule"

// RegisterEvents registers the module's events.
func RegisterEvents(r *eventstore.Registry) { r.Register(AlertRuleCreated{}, 1) }

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the module's migration set.
func Migrations() pgmigrate.Set { return pgmigrate.Embedded("alerts", migrationFiles) }

//go:embed *.sql
var sqlFiles embed.FS

var sqlQueries = sqlfile.MustParse("alerts", sqlFiles, "*.sql")

// Options tune the service; tests shorten every delay and inject the clock.
type Options struct {
	// Logger receives operational logs (never a secret, never a URL's query).
	Logger *slog.Logger
	// Now is the clock of rule creation, matching and retries (nil: time.Now).
	Now func() time.Time
	// BaseDelay is the first retry's delay, doubled per attempt (0: 30 s).
	BaseDelay time.Duration
	// MaxDelay caps one retry's delay (0: 15 min).
	MaxDelay time.Duration
	// MaxAttempts bounds the attempts of a delivery (0: 8).
	MaxAttempts int
	// MaxAge gives a delivery up when it is older than this after a failed attempt (0: 1 h).
	MaxAge time.Duration
	// Lease is how long a claimed delivery stays with its claimer (0: 1 min; at least
	// twice Timeout).
	Lease time.Duration
	// Timeout bounds one POST (0: 10 s).
	Timeout time.Duration
	// Client sends the POSTs (nil: a client following no redirect).
	Client *http.Client
	// Jitter returns a number in [0, 1) (nil: math/rand/v2).
	Jitter func() float64
}

// Service is the alerts module.
type Service struct {
	pool    *pgxpool.Pool
	store   *eventstore.Store
	tenancy *tenancy.Service
	audit   *audit.Recorder
	ops     *operations.Service
	log     *slog.Logger
	opts    Options
}

// New returns the alerts service.
func New(pool *pgxpool.Pool, store *eventstore.Store, ten *tenancy.Service, rec *audit.Recorder, ops *operations.Service, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 30 * time.Second
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 15 * time.Minute
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Hour
	}
	if opts.Lease <= 0 {
		opts.Lease = time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	opts.Lease = max(opts.Lease, 2*opts.Timeout+time.Second)
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Service{pool: pool, store: store, tenancy: ten, audit: rec, ops: ops, log: opts.Logger, opts: opts}
}

// Backoff is the delay before the retry that follows failed attempt n (1-based):
// BaseDelay·2^(n-1), capped at MaxDelay, with full jitter over its upper half.
func (s *Service) Backoff(n int) time.Duration {
	d := s.opts.BaseDelay
	for i := 1; i < n && d < s.opts.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxDelay)
	half := d / 2
	return half + time.Duration(s.opts.Jitter()*float64(d-half))
}

// Run follows the log and dispatches deliveries until ctx ends: what `atlas serve` and
// `atlas worker` start in the background. Several processes may run it at once.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Follow(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("alerts: follow failed", "error", operations.Sanitize(err.Error()))
		}
		if _, err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("alerts: dispatch failed", "error", operations.Sanitize(err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
