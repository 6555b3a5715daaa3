// Package monolith wires the modules together over one connection pool: the event
// registry of every module, every migration set, and the services. `atlas` and the
// end-to-end tests build the system through it, so both run the same wiring.
package monolith

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/directory"
	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/notify"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// MigrationSets lists every owner's migrations, in the order they are applied.
func MigrationSets() []pgmigrate.Set {
	return []pgmigrate.Set{eventstore.Migrations(), tenancy.Migrations(), operations.Migrations(), notify.Migrations(), projections.Migrations(),
		inventory.Migrations(), directory.Migrations(), drift.Migrations(), backup.Migrations()}
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
	return r
}

// Projections lists every projection the runner advances.
func Projections() []projections.Projection {
	return []projections.Projection{projections.HubRuns{}, projections.RunTimeline{}, projections.ScopeCounts{}, projections.LegacyRuns{},
		projections.Notifications{}}
}

// MaxReadyLag is how far (in events) the projections may trail the log and still be
// ready: events keep arriving while a busy system serves.
const MaxReadyLag = 1000

// Ready reports an error while any projection trails the log by more than MaxReadyLag.
func (a *App) Ready(ctx context.Context) error {
	st, err := a.Runner.Status(ctx, Projections()...)
	if err != nil {
		return err
	}
	for _, s := range st {
		// A version being rebuilt does not count: its older version serves the reads
		// meanwhile (an upgrade would otherwise take every instance out of rotation).
		if !s.Rebuilding && s.Lag > MaxReadyLag {
			return fmt.Errorf("projection %s is %d events behind", s.Name, s.Lag)
		}
	}
	return nil
}

// Collectors are the Prometheus collectors of the monolith.
func (a *App) Collectors() []prometheus.Collector {
	return []prometheus.Collector{projections.NewCollector(a.Runner, Projections()...), projections.AppliedEvents()}
}

// Options tune the wiring (tests shorten timeouts and cheapen password hashing).
type Options struct {
	// Logger receives every module's logs.
	Logger *slog.Logger
	// BcryptCost is the password hashing cost (0: the default).
	BcryptCost int
	// Operations are passed to the operations module (Logger is filled in).
	Operations operations.Options
	// Graph is the Microsoft Graph client of the run types doing real work
	// (provider.verify, inventory.sync, the directory syncs, drift.generate,
	// backup_set.add_policies). Nil registers none of their handlers: runs of those
	// types then fail fast with internal_error, as before.
	Graph graph.Client
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
	// Inventory, Directory, Drift and Backup read their modules' tables for the hub
	// (always set; their handlers only run when Options.Graph is set).
	Inventory *inventory.Service
	Directory *directory.Service
	Drift     *drift.Service
	Backup    *backup.Service
	// Provider is the Graph glue of the run types; nil without Options.Graph.
	Provider *provider.Service
	log      *slog.Logger
}

// New wires every module over pool.
func New(pool *pgxpool.Pool, opts Options) *App {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store := eventstore.New(pool, eventstore.Options{Registry: Registry(), Logger: log})
	ten := tenancy.New(pool, store, tenancy.Options{Logger: log, BcryptCost: opts.BcryptCost})
	rec := audit.NewRecorder(store)
	opOpts := opts.Operations
	opOpts.Logger = log
	ops := operations.New(pool, store, ten, rec, opOpts)
	runner := projections.NewRunner(pool, store, projections.Options{Logger: log})
	app := &App{Pool: pool, Store: store, Tenancy: ten, Audit: rec, Operations: ops,
		Runner: runner, Runs: projections.NewRunReader(pool), log: log}
	if opts.Graph != nil {
		app.Provider = provider.New(ten, opts.Graph, log)
	}
	app.Inventory = inventory.New(pool, app.Provider, log)
	app.Directory = directory.New(pool, app.Provider, log)
	app.Drift = drift.New(pool, app.Inventory, log)
	app.Backup = backup.New(pool, app.Provider, log)
	if opts.Graph != nil {
		app.Provider.Register(ops)
		app.Inventory.Register(ops)
		app.Directory.Register(ops)
		app.Drift.Register(ops)
		app.Backup.Register(ops)
	}
	return app
}

// Background starts the sealer, the run workers, the sweeper and the projections; they stop when ctx
// ends, and wg.Wait() waits for them.
func (a *App) Background(ctx context.Context, wg *sync.WaitGroup, workers operations.WorkerOptions) {
	// The sealer outlives ctx until the workers have stopped: runs finishing within
	// their shutdown timeout still get their events sealed.
	sealCtx, stopSealer := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { _ = a.Store.RunSealer(sealCtx, 50*time.Millisecond) })
	wg.Go(func() {
		defer stopSealer()
		if err := a.Operations.RunWorkers(ctx, workers); err != nil {
			a.log.Error("workers stopped", "error", operations.Sanitize(err.Error()))
		}
	})
	wg.Go(func() { a.Operations.RunSweeper(ctx, 30*time.Second) })
	wg.Go(func() {
		if err := a.Runner.Run(ctx, Projections()...); err != nil {
			a.log.Error("projections stopped", "error", operations.Sanitize(err.Error()))
		}
	})
}
