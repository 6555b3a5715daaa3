package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

func defaultAddr(env *cli) string {
	if a := env.getenv("ATLAS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:8080"
}

func runServe(ctx context.Context, env *cli, args []string) error {
	var addr string
	c, p, err := openProcess(ctx, env, "serve", args, func(fs *flag.FlagSet) {
		fs.StringVar(&addr, "addr", defaultAddr(env), "listen address (env ATLAS_ADDR)")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	return serve(ctx, env, c.log, c.pool, addr, newWorkingApp(env, c.pool, c.log, p.demoGraph), nil, p.workers)
}

func runDev(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "dev", &common)
	addr := fs.String("addr", defaultAddr(env), "listen address (env ATLAS_ADDR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(env.stderr, common)
	if err != nil {
		return err
	}
	url, err := databaseURL(ctx, env, log, true)
	if err != nil {
		return err
	}
	if env.getenv("DATABASE_URL") == "" {
		// A discovered server is shared (its "test" database belongs to others):
		// keep the dev data in a database of its own.
		if url, err = ensureDatabase(ctx, url, "atlas_dev"); err != nil {
			return err
		}
	}
	timeouts, err := dbTimeoutsFor(env, "dev")
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, url, 0, timeouts)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := monolith.Migrate(ctx, pool); err != nil {
		return err
	}
	a, sim := newWorkingAppSim(env, pool, log, true)
	seed, err := monolith.SeedDemo(ctx, a)
	if err != nil {
		return err
	}
	// The demo's history is made by running the operations for real against the
	// simulator (once per database); the server then works on with the same simulator.
	began := time.Now()
	made, err := monolith.SeedDemoRuns(ctx, a, seed, sim)
	if err != nil {
		return fmt.Errorf("seed the demo runs: %w", err)
	}
	if made.Tenants > 0 {
		log.Info("demo runs made", "tenants", made.Tenants, "runs", len(made.Runs), "seconds", time.Since(began).Seconds())
	}
	return serve(ctx, env, log, pool, *addr, a, func(listenAddr string) {
		fmt.Fprintf(env.stdout, "TenantAtlas Ops is running\n  hub:      http://%s/admin/login\n  system:   http://%s/system/login (platform users)\n  API:      http://%s/api/v1 (Authorization: Bearer <token>)\n  health:   http://%s/healthz\n  graph:    %s (simulator, in-process, for the demo tenants)\n  database: %s\n",
			listenAddr, listenAddr, listenAddr, listenAddr, monolith.DemoGraphURL, redact(url))
		printLogins(env.stdout, seed)
		fmt.Fprintln(env.stdout, "Press Ctrl+C to stop.")
	}, operations.WorkerOptions{})
}

// readDatabaseEnv names the read replica's URL: a PostgreSQL streaming replica of
// DATABASE_URL the hub's and the API's run lists, overview figures and audit pages are
// read from (unset: the primary). Writes and the start gate stay on DATABASE_URL.
const readDatabaseEnv = "ATLAS_READ_DATABASE_URL"

// demoGraphUsage documents --demo-graph of serve and worker.
const demoGraphUsage = "route the demo tenants' Graph host (" + monolith.DemoGraphHost + ") to the in-process simulator; without it their connections are refused"

// serve runs the HTTP server, the workers, the sweeper and the sealer of a (a working
// app: newWorkingApp) until ctx ends. ready, if set, is called with the bound address
// once the listener is up. workers configure its run workers.
func serve(ctx context.Context, env *cli, log *slog.Logger, pool *pgxpool.Pool, addr string, a *monolith.App, ready func(string), workers operations.WorkerOptions) error {
	proxies, requestTimeout, err := webEdge(env)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	streams, err := streamConfig(env, pool, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	deps := web.Deps{Logger: log, Database: pool, Tenancy: a.Tenancy, Operations: a.Operations,
		Runs: a.Runs, Inventory: a.Inventory, Directory: a.Directory, Drift: a.Drift, Backup: a.Backup, Restore: a.Restore, Onboarding: a.Onboarding, Alerts: a.Alerts, Runbooks: a.Runbooks, Events: a.Store, Ready: a.Ready, Collectors: a.Collectors(), SessionKey: sessionKey(env, log),
		TrustedProxies: proxies, RequestTimeout: requestTimeout,
		Streams: streams}
	if readURL := env.getenv(readDatabaseEnv); readURL != "" {
		timeouts, err := dbTimeoutsFor(env, "serve")
		if err != nil {
			_ = ln.Close()
			return err
		}
		replica, err := openPool(ctx, readURL, 0, timeouts)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("%s: %w", readDatabaseEnv, err)
		}
		defer replica.Close()
		deps.ReadRuns = projections.NewRunReader(replica)
		deps.ReplicaLag = func(ctx context.Context) (projections.ReplicaLag, error) {
			return projections.MeasureReplicaLag(ctx, pool, replica)
		}
		log.Info("hub lists read from a replica", "read_database", redact(readURL))
	}
	srv := web.New(deps)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	a.Background(ctx, &wg, workers)
	wg.Go(func() { servePprof(ctx, env.getenv("ATLAS_PPROF_ADDR"), log) })
	wg.Go(func() { srv.ListenRunChanges(ctx) })

	errc := make(chan error, 1)
	go func() { errc <- srv.App().Listener(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		serveErr = srv.App().ShutdownWithContext(shutdownCtx)
		cancelShutdown()
	}
	cancel()
	wg.Wait()
	log.Info("stopped")
	return serveErr
}

func runWorker(ctx context.Context, env *cli, args []string) error {
	c, p, err := openProcess(ctx, env, "worker", args, nil)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	demoGraph, workers := p.demoGraph, p.workers
	log := c.log
	a := newWorkingApp(env, c.pool, log, demoGraph)
	var wg sync.WaitGroup
	a.Background(ctx, &wg, workers)
	log.Info("worker running")
	<-ctx.Done()
	wg.Wait()
	log.Info("stopped")
	return nil
}

// processFlags are the flags of every process that runs workers (serve, worker).
type processFlags struct {
	demoGraph bool
	workers   operations.WorkerOptions
}

// openProcess opens a process that runs workers: its own flags (extra, may be nil) plus
// --demo-graph and --shutdown-timeout (how long running handlers may go on after SIGTERM
// before their contexts are cancelled), which must be positive.
func openProcess(ctx context.Context, env *cli, name string, args []string, extra func(*flag.FlagSet)) (*dbCommand, processFlags, error) {
	var p processFlags
	c, err := openCommand(ctx, env, name, args, 0, false, func(fs *flag.FlagSet) {
		if extra != nil {
			extra(fs)
		}
		fs.BoolVar(&p.demoGraph, "demo-graph", false, demoGraphUsage)
		fs.DurationVar(&p.workers.ShutdownTimeout, "shutdown-timeout", 30*time.Second,
			"on SIGTERM, how long running runs may finish before they are cancelled (the sweeper then ends them)")
	})
	if err != nil {
		return nil, p, err
	}
	if p.workers.ShutdownTimeout <= 0 {
		c.pool.Close()
		return nil, p, usageError{"--shutdown-timeout must be positive"}
	}
	// ATLAS_WORKER_ID names the process in RunStarted (`atlas soak` tells its workers apart).
	p.workers.WorkerID = env.getenv("ATLAS_WORKER_ID")
	return c, p, nil
}

// redact hides the password of a database URL.
func redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "(invalid URL)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// ensureDatabase creates database name on the server of adminURL if it is missing and
// returns the URL of that database.
func ensureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return "", fmt.Errorf("invalid database URL")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("connect to database %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("database URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// sessionKey is ATLAS_SESSION_KEY (at least 32 bytes), shared by every serve process so
// hub sessions survive restarts and work behind a load balancer; without it each
// process makes its own random key and sessions end when it stops.
func sessionKey(env *cli, log *slog.Logger) []byte {
	k := env.getenv("ATLAS_SESSION_KEY")
	if len(k) >= 32 {
		return []byte(k)
	}
	if k != "" {
		log.Warn("ATLAS_SESSION_KEY is shorter than 32 bytes; using a random per-process key")
	}
	return nil
}
