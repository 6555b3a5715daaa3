// Package monolith wires the modules together over one connection pool: the event
// registry of every module, every migration set, and the services. `atlas` and the
// end-to-end tests build the system through it, so both run the same wiring.
//
// Layering (README.md, "Architecture: layers and imports"): floor 5: it imports the
// event store, every module and projections, and must not import web or cmd/ (they are
// built on it).
package monolith

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/modules/alerts"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/directory"
	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/notify"
	"github.com/tenantatlas/ops/modules/onboarding"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
	"github.com/tenantatlas/ops/modules/restore"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// MigrationSets lists every owner's migrations, in the order they are applied.
func MigrationSets() []pgmigrate.Set {
	return []pgmigrate.Set{eventstore.Migrations(), tenancy.Migrations(), operations.Migrations(), notify.Migrations(), projections.Migrations(),
		inventory.Migrations(), directory.Migrations(), drift.Migrations(), backup.Migrations(), alerts.Migrations(),
		restore.Migrations(), onboarding.Migrations()}
}

// Migrate applies every migration set.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmigrate.Apply(ctx, pool, MigrationSets()...)
}

// Registry returns the registry of every event type of every module.
func Registry() *eventstore.Registry {
	r := eventstore.NewRegistry()
	tenancy.RegisterEvents(r)
	operations.RegisterEvents(r)
	notify.RegisterEvents(r)
	audit.RegisterEvents(r)
	alerts.RegisterEvents(r)
	backup.RegisterEvents(r)
	return r
}

// Projections lists every projection the runner advances.
func Projections() []projections.Projection {
	return []projections.Projection{projections.HubRuns{}, projections.RunTimeline{}, projections.ScopeCounts{}, projections.LegacyRuns{},
		projections.Notifications{}, projections.ConnectionRuns{}, projections.AuditLog{}, projections.RunLinks{}}
}

// MaxReadyLag is how far (in events) the projections may trail the log and still be
// ready: events keep arriving while a busy system serves.
const MaxReadyLag = 1000

// DefaultStallThreshold is how long sealing or a projection may stand still, with work
// waiting, before the process reports not ready.
const DefaultStallThreshold = 30 * time.Second

// NotReadyError names the readiness checks that failed, each with what was found
// (never SQL or internals): "sealing", "projection:<name>".
type NotReadyError struct {
	// Failed maps each failed check to its finding.
	Failed map[string]string
}

// Error implements error.
func (e *NotReadyError) Error() string {
	names := slices.Sorted(maps.Keys(e.Failed))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + e.Failed[n]
	}
	return "not ready: " + strings.Join(parts, "; ")
}

// Checks returns the failed checks (what /readyz lists).
func (e *NotReadyError) Checks() map[string]string { return e.Failed }

// stallWatch remembers, per projection, the checkpoint it last saw behind the head
// and since when, so a projection is stuck only when it had work and did not move for
// the threshold (an idle projection, lag 0, is never stuck).
type stallWatch struct {
	mu   sync.Mutex
	seen map[string]stallSeen
}

type stallSeen struct {
	checkpoint int64
	since      time.Time
}

// stuckFor returns how long the projection has stood at checkpoint with lag > 0.
func (w *stallWatch) stuckFor(name string, checkpoint, lag int64, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lag <= 0 {
		delete(w.seen, name)
		return 0
	}
	s, ok := w.seen[name]
	if !ok || s.checkpoint != checkpoint {
		w.seen[name] = stallSeen{checkpoint: checkpoint, since: now}
		return 0
	}
	return now.Sub(s.since)
}

// Ready reports a *NotReadyError while sealing is stuck (a committed event has waited
// for its global position longer than the stall threshold: some transaction holds the
// seal horizon), a projection is stuck (events wait for it and its checkpoint has not
// moved for the threshold), or a projection trails the log by more than MaxReadyLag.
// A check that cannot be made (a query failed) is reported as failed, "unknown".
// A projection version being rebuilt does not count: its older version serves the
// reads meanwhile (an upgrade would otherwise take every instance out of rotation).
func (a *App) Ready(ctx context.Context) error {
	failed := map[string]string{}
	seal, err := a.Store.SealStatus(ctx)
	if err != nil {
		a.log.Warn("readiness: sealing check failed", "error", failure.Sanitize(err.Error()))
		failed["sealing"] = "unknown: the check failed"
	} else if seal.OldestUnsealedAge > a.stallThreshold {
		// Sealing passes no transaction that holds an id; with none open, the sealer
		// itself is not running (or failing).
		msg := fmt.Sprintf("stuck for %ds: %d committed events wait for a global position", int64(seal.OldestUnsealedAge.Seconds()), seal.Unsealed)
		if seal.Blocker != "" {
			msg += "; the oldest transaction holding an id on the server holds the seal horizon (" + seal.Blocker + ")"
		} else {
			msg += "; no transaction holds the seal horizon: is a sealer (atlas serve or worker) running?"
		}
		failed["sealing"] = msg
	}
	st, err := a.Runner.Status(ctx, Projections()...)
	if err != nil {
		a.log.Warn("readiness: projections check failed", "error", failure.Sanitize(err.Error()))
		failed["projections"] = "unknown: the check failed"
	}
	now := time.Now()
	for _, s := range st {
		if s.Rebuilding {
			a.stalls.stuckFor(s.Name, s.Checkpoint, 0, now)
			continue
		}
		if d := a.stalls.stuckFor(s.Name, s.Checkpoint, s.Lag, now); d > a.stallThreshold {
			failed["projection:"+s.Name] = fmt.Sprintf("stuck for %ds at position %d, %d events behind", int64(d.Seconds()), s.Checkpoint, s.Lag)
		} else if s.Lag > MaxReadyLag {
			failed["projection:"+s.Name] = fmt.Sprintf("%d events behind (catching up)", s.Lag)
		}
	}
	if len(failed) > 0 {
		return &NotReadyError{Failed: failed}
	}
	return nil
}

// Collectors are the Prometheus collectors of the monolith.
func (a *App) Collectors() []prometheus.Collector {
	return []prometheus.Collector{projections.NewCollector(a.Runner, Projections()...), projections.AppliedEvents(),
		tenancy.LoginAttempts(), eventstore.NewCollector(a.Store), audit.Suppressed()}
}

// Options tune the wiring (tests shorten timeouts and cheapen password hashing).
type Options struct {
	// Logger receives every module's logs.
	Logger *slog.Logger
	// BcryptCost is the password hashing cost (0: the default).
	BcryptCost int
	// Operations are passed to the operations module (Logger is filled in).
	Operations operations.Options
	// Tenancy are passed to the tenancy module (Logger is filled in, and BcryptCost
	// from the field above when unset): the sign-in bcrypt cap, its wait and test hook.
	Tenancy tenancy.Options
	// StallThreshold is how long sealing or a projection may stand still with work
	// waiting before Ready fails (0: DefaultStallThreshold).
	StallThreshold time.Duration
	// Graph is the Microsoft Graph client of the run types doing real work
	// (provider.verify, inventory.sync, the directory syncs, drift.generate,
	// backup_set.add_policies). Nil registers none of their handlers and declares
	// them runnable instead (WorkerTypes): a process that starts runs for the
	// deployment's worker processes to work.
	Graph graph.Client
	// Alerts are passed to the alerts module (Logger is filled in): tests shorten its
	// retry delays and inject its clock.
	Alerts alerts.Options
	// DemoGraph says the Graph client routes DemoGraphHost to the in-process simulator
	// (`atlas dev`, --demo-graph). Without it the gate blocks, and the workers fail,
	// every run of a connection aimed at the demo host (provider_connection_invalid).
	DemoGraph bool
	// SweepInterval is how often Background's sweeper ends stale runs (0: DefaultSweepInterval).
	SweepInterval time.Duration
}

// App is the monolith wired together.
type App struct {
	Pool       *pgxpool.Pool
	Store      *eventstore.Store
	Tenancy    *tenancy.Service
	Audit      *audit.Recorder
	Operations *operations.Service
	Runner     *projections.Runner
	Runs       *projections.RunReader
	// Legacy imports the legacy system's run rows as run events (`atlas legacy import`).
	Legacy *legacy.Importer
	// Inventory, Directory, Drift and Backup read their modules' tables for the hub
	// (always set; their handlers only run when Options.Graph is set).
	Inventory *inventory.Service
	Directory *directory.Service
	Drift     *drift.Service
	Backup    *backup.Service
	// Restore holds restores of backup sets (its runs need Options.Graph).
	Restore *restore.Service
	// Onboarding holds the onboarding sessions of new tenants (spec 216, 086 T036).
	Onboarding *onboarding.Service
	// Provider is the Graph glue of the run types; nil without Options.Graph.
	Provider *provider.Service
	// Alerts holds the workspaces' alert rules and sends their deliveries.
	Alerts *alerts.Service
	// Runbooks are the platform runbooks of /system (spec 113).
	Runbooks *runbooks.Service
	log      *slog.Logger
	// stallThreshold and stalls serve Ready.
	stallThreshold time.Duration
	sweepInterval  time.Duration
	stalls         stallWatch
}

// New wires every module over pool.
func New(pool *pgxpool.Pool, opts Options) *App {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store := eventstore.New(pool, eventstore.Options{Registry: Registry(), Logger: log})
	tenOpts := opts.Tenancy
	tenOpts.Logger = log
	if tenOpts.BcryptCost == 0 {
		tenOpts.BcryptCost = opts.BcryptCost
	}
	ten := tenancy.New(pool, store, tenOpts)
	rec := audit.NewRecorder(store)
	opOpts := opts.Operations
	opOpts.Logger = log
	ops := operations.New(pool, store, ten, rec, opOpts)
	runner := projections.NewRunner(pool, store, projections.Options{Logger: log})
	app := &App{Pool: pool, Store: store, Tenancy: ten, Audit: rec, Operations: ops, Legacy: legacy.New(pool, store, ten, rec, ops),
		Runner: runner, Runs: projections.NewRunReader(pool), log: log,
		stallThreshold: cmp.Or(opts.StallThreshold, DefaultStallThreshold), sweepInterval: cmp.Or(opts.SweepInterval, DefaultSweepInterval), stalls: stallWatch{seen: map[string]stallSeen{}}}
	if opts.Graph != nil {
		app.Provider = provider.New(ten, opts.Graph, log)
		if !opts.DemoGraph {
			app.Provider.RefuseHost(DemoGraphHost, DemoGraphRefused)
		}
	}
	app.Inventory = inventory.New(pool, app.Provider, log)
	app.Directory = directory.New(pool, app.Provider, log)
	app.Drift = drift.New(pool, app.Inventory, log)
	app.Backup = backup.New(pool, app.Provider, log)
	app.Backup.Wire(store, rec, ops, app.Inventory)
	app.Restore = restore.New(pool, app.Provider, app.Backup, ten, ops, rec, log)
	app.Onboarding = onboarding.New(pool, ten, ops, app.Inventory, rec, log)
	alOpts := opts.Alerts
	alOpts.Logger = log
	app.Alerts = alerts.New(pool, store, ten, rec, ops, alOpts)
	app.Runbooks = runbooks.New(ops, ten, app.Drift, rec, log)
	if opts.Graph != nil {
		app.Provider.Register(ops)
		app.Inventory.Register(ops)
		app.Directory.Register(ops)
		app.Drift.Register(ops)
		app.Backup.Register(ops)
		app.Restore.Register(ops)
		// The runbooks need no Graph, but only a working process registers handlers.
		app.Runbooks.Register(ops)
	} else {
		// This process works no runs, but the deployment's workers (`atlas serve`,
		// `atlas worker`) do: its gate admits and its hub offers what they handle.
		for _, t := range WorkerTypes() {
			ops.DeclareRunnable(t)
		}
	}
	return app
}

// WorkerTypes are the run types whose handlers New registers when it has a Graph
// client: what the deployment's worker processes run. A process wired without Graph
// declares them runnable (operations.Service.DeclareRunnable); web's TestWorkerTypes keeps
// this list equal to the handlers the modules register.
func WorkerTypes() []string {
	return []string{"backup_schedule.retry", "backup_schedule.run_now", "backup_schedule.scheduled", "backup_set.add_policies",
		"directory.groups.sync", "directory.role_definitions.sync", "drift.generate", "findings.lifecycle.backfill", "inventory.sync", "provider.verify",
		"restore.execute", "restore.preview"}
}

// OutboxSweepInterval is how often Background sweeps the outbox tables
// (eventstore.SweepOutbox).
const OutboxSweepInterval = time.Minute

// DefaultSweepInterval is how often Background ends stale runs (Options.SweepInterval).
const DefaultSweepInterval = 30 * time.Second

// AlertsInterval is how often Background follows the log for alert deliveries and
// sends those due.
const AlertsInterval = time.Second

// ScheduleInterval is how often Background fires the backup schedules that are due.
const ScheduleInterval = 15 * time.Second

// Background starts the sealer, the run workers, the sweeper, the outbox sweeper, the
// alerts (follower and dispatcher), the backup scheduler and the projections; they stop
// when ctx ends, and wg.Wait() waits for them.
func (a *App) Background(ctx context.Context, wg *sync.WaitGroup, workers operations.WorkerOptions) {
	// The sealer outlives ctx until the workers have stopped: runs finishing within
	// their shutdown timeout still get their events sealed.
	sealCtx, stopSealer := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { _ = a.Store.RunSealer(sealCtx, 50*time.Millisecond) })
	wg.Go(func() {
		defer stopSealer()
		if err := a.Operations.RunWorkers(ctx, workers); err != nil {
			a.log.Error("workers stopped", "error", failure.Sanitize(err.Error()))
		}
	})
	wg.Go(func() { a.Operations.RunSweeper(ctx, a.sweepInterval) })
	wg.Go(func() { a.Store.RunOutboxSweeper(ctx, OutboxSweepInterval, eventstore.DefaultOutboxMaxAge) })
	wg.Go(func() { a.Alerts.Run(ctx, AlertsInterval) })
	wg.Go(func() { a.Backup.RunScheduler(ctx, ScheduleInterval) })
	wg.Go(func() {
		if err := a.Runner.Run(ctx, Projections()...); err != nil {
			a.log.Error("projections stopped", "error", failure.Sanitize(err.Error()))
		}
	})
}
