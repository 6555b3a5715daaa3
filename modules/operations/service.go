package operations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/notify"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// Errors of the operations module; web/ maps them to HTTP statuses in one place.
var (
	// ErrUnknownType: the run type is not in the catalog (422).
	ErrUnknownType = errors.New("operations: unknown operation type")
	// ErrInvalidContext: the start context is not a JSON object of acceptable size (422).
	ErrInvalidContext = errors.New("operations: invalid context")
	// ErrNotFound: no such run or tenant, or not visible to the caller (404).
	ErrNotFound = errors.New("operations: not found")
	// ErrForbidden: the caller is a member but lacks the capability (403).
	ErrForbidden = errors.New("operations: forbidden")
	// ErrTypeUnavailable: no worker of this deployment runs the type (422,
	// ReasonOperationTypeUnavailable); nothing is recorded.
	ErrTypeUnavailable = errors.New("operations: no worker runs this operation type")
	// ErrSurfaceNotAllowed: the type is not started from this surface (422,
	// ReasonStartSurfaceNotAllowed); nothing is recorded.
	ErrSurfaceNotAllowed = errors.New("operations: this operation type is not started from here")
)

// RunURL is the canonical viewer of a run.
func RunURL(id uuid.UUID) string { return "/admin/operations/" + id.String() }

// Options configure a Service.
type Options struct {
	// Logger receives operational logs.
	Logger *slog.Logger
	// Now is the clock (sweeper timeouts, event times).
	Now func() time.Time
	// Dispatcher enqueues jobs in the start transaction; nil means the watermill outbox.
	Dispatcher Dispatcher
	// QueuedTimeout ends queued runs nobody picked up (default 15 minutes).
	QueuedTimeout time.Duration
	// HeartbeatTimeout ends running runs whose worker went silent (default 2 minutes).
	HeartbeatTimeout time.Duration
	// HeartbeatInterval is how often a worker touches its run (default 10 seconds).
	HeartbeatInterval time.Duration
	// FlushInterval and FlushEvery bound how long progress waits before it is appended.
	FlushInterval time.Duration
	// GroupCommit lets concurrent starts share one transaction (groupcommit.go). Off by
	// default: on the shared 2-core VM (2026-12-01, CPU-bound, not fsync-bound) it
	// measured slower than a transaction per start at 8 callers.
	GroupCommit bool
	// FlushEvery is the number of progress calls that forces a flush (default 200).
	FlushEvery int
}

// Service is the operations module: the start gate, the run workers and the sweeper.
type Service struct {
	pool     *pgxpool.Pool
	store    *eventstore.Store
	tenancy  *tenancy.Service
	audit    *audit.Recorder
	log      *slog.Logger
	now      func() time.Time
	dispatch Dispatcher
	opts     Options
	handlers map[string]Handler
	// preconditions and validators are the start gate's per-type checks (gate.go).
	preconditions map[string]Precondition
	validators    map[string]ContextValidator
	// connCheck is the gate's check of a provider-backed start's connection (gate.go).
	connCheck ConnectionCheck
	// declared are types this process handles none of but the deployment's workers do
	// (runnable.go).
	declared map[string]bool
	// group is the start gate's group commit (groupcommit.go).
	group groupCommit
	// ends are the run ends waiting for a batched end transaction (ender.go).
	ends endQueue
	// tenantWorkspaces maps a tenant (uuid.UUID) to its workspace, learnt from its
	// authorized starts, so later starts of it fold their authorization (gate.go). It
	// holds at most one entry for each tenant of the database.
	tenantWorkspaces sync.Map
}

// New returns the operations service.
func New(pool *pgxpool.Pool, store *eventstore.Store, ten *tenancy.Service, rec *audit.Recorder, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.QueuedTimeout == 0 {
		opts.QueuedTimeout = 15 * time.Minute
	}
	if opts.HeartbeatTimeout == 0 {
		opts.HeartbeatTimeout = 2 * time.Minute
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 10 * time.Second
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = time.Second
	}
	if opts.FlushEvery == 0 {
		opts.FlushEvery = 200
	}
	s := &Service{pool: pool, store: store, tenancy: ten, audit: rec, log: opts.Logger,
		now: opts.Now, opts: opts, handlers: map[string]Handler{},
		preconditions: map[string]Precondition{}, validators: map[string]ContextValidator{}}
	s.declared = map[string]bool{}
	s.dispatch = opts.Dispatcher
	if s.dispatch == nil {
		s.dispatch = outboxDispatcher{}
	}
	return s
}

// Load rebuilds a run from its events; ErrNotFound when there is none.
func (s *Service) Load(ctx context.Context, id uuid.UUID) (*Run, error) {
	envs, err := s.store.ReadStream(ctx, RunStream(id), 0)
	if err != nil {
		return nil, fmt.Errorf("operations: load run: %w", err)
	}
	if len(envs) == 0 {
		return nil, ErrNotFound
	}
	return RunFromEvents(envs), nil
}

// Events returns a run's events in order.
func (s *Service) Events(ctx context.Context, id uuid.UUID) ([]eventstore.Envelope, error) {
	envs, err := s.store.ReadStream(ctx, RunStream(id), 0)
	if err != nil {
		return nil, fmt.Errorf("operations: run events: %w", err)
	}
	return envs, nil
}

// AuthorizeView loads a run the user may view: ErrNotFound when the run does not exist
// or the user is not a member of its tenant (or workspace), ErrForbidden when a member
// lacks the type's view capability.
func (s *Service) AuthorizeView(ctx context.Context, userID, runID uuid.UUID) (*Run, error) {
	run, err := s.Load(ctx, runID)
	if err != nil {
		return nil, err
	}
	info, ok := LookupType(run.Type)
	viewCap := tenancy.CapOperationsView
	if ok {
		viewCap = info.ViewCapability
	}
	var dec tenancy.Decision
	if run.TenantID != uuid.Nil {
		_, dec, err = s.tenancy.Authorize(ctx, userID, run.TenantID, viewCap)
	} else {
		dec, err = s.tenancy.AuthorizeWorkspace(ctx, userID, run.WorkspaceID, viewCap)
	}
	if err != nil {
		return nil, fmt.Errorf("operations: authorize: %w", err)
	}
	switch dec {
	case tenancy.Allowed:
		return run, nil
	case tenancy.Forbidden:
		return nil, ErrForbidden
	default:
		return nil, ErrNotFound
	}
}

// systemMeta is the metadata of events the module writes on its own behalf.
func systemMeta(run *Run, component string) eventstore.Metadata {
	return eventstore.Metadata{Actor: "system:" + component, WorkspaceID: run.WorkspaceID, TenantID: run.TenantID, CorrelationID: run.ID}
}

// terminalNotification tells a user initiator (only) how the run ended.
func terminalNotification(run *Run, outcome Outcome) (notify.NotificationSent, bool, error) {
	if run.Initiator.UserID == uuid.Nil || run.Initiator.Kind != "user" {
		return notify.NotificationSent{}, false, nil
	}
	label := run.Type
	if info, ok := LookupType(run.Type); ok {
		label = info.Label
	}
	n, err := notify.Compose(notify.NotificationSent{UserID: run.Initiator.UserID, RunID: run.ID, Kind: "run.terminal",
		Title: fmt.Sprintf("%s %s", label, outcomeWords(outcome)), Body: "View run for counts and failures.", URL: RunURL(run.ID)})
	return n, err == nil, err
}

// queuedNotification tells a user initiator (only) that the run was queued.
func queuedNotification(info TypeInfo, req StartRequest, runID uuid.UUID) (notify.NotificationSent, bool, error) {
	if req.Initiator.Kind != "user" || req.Initiator.UserID == uuid.Nil {
		return notify.NotificationSent{}, false, nil
	}
	n, err := notify.Compose(notify.NotificationSent{UserID: req.Initiator.UserID, RunID: runID,
		Kind: "run.queued", Title: info.Label + " queued", Body: "The run was queued.", URL: RunURL(runID)})
	return n, err == nil, err
}

func outcomeWords(o Outcome) string {
	switch o {
	case OutcomeSucceeded:
		return "succeeded"
	case OutcomePartiallySucceeded:
		return "partially succeeded"
	case OutcomeBlocked:
		return "was blocked"
	case OutcomeCancelled:
		return "was cancelled"
	default:
		return "failed"
	}
}
