package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pglocal"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/graph/msgraph"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
)

// newApp wires every module without a Graph client: for commands that run no work.
func newApp(pool *pgxpool.Pool, log *slog.Logger) *monolith.App {
	return monolith.New(pool, monolith.Options{Logger: log})
}

// newWorkingApp wires every module with the Microsoft Graph client, so the run types
// doing real work have their handlers: for the processes that run workers. demoGraph
// routes the demo tenants' Graph host to the in-process simulator (`atlas dev`,
// --demo-graph); without it their connections are refused.
func newWorkingApp(env *cli, pool *pgxpool.Pool, log *slog.Logger, demoGraph bool) *monolith.App {
	a, _ := newWorkingAppSim(env, pool, log, demoGraph)
	return a
}

// newWorkingAppSim is newWorkingApp that also returns the in-process simulator
// answering the demo Graph host (nil without demoGraph): `atlas dev` changes the demo
// tenants in it between the syncs of their demo runs.
func newWorkingAppSim(env *cli, pool *pgxpool.Pool, log *slog.Logger, demoGraph bool) (*monolith.App, *graphsim.Server) {
	client, sim := newGraph(env, log, demoGraph)
	ops, sweep := runTimings(env, log)
	return monolith.New(pool, monolith.Options{Logger: log, Graph: client, DemoGraph: demoGraph,
		StallThreshold: stallThreshold(env, log), Operations: ops, SweepInterval: sweep}), sim
}

// runTimings are the run liveness settings of a working process, from the environment
// (each a duration; unset or invalid keeps the default, an invalid one is logged):
// ATLAS_RUN_QUEUED_TIMEOUT (15m), ATLAS_RUN_HEARTBEAT_TIMEOUT (2m),
// ATLAS_RUN_HEARTBEAT_INTERVAL (10s) and ATLAS_SWEEP_INTERVAL (30s). `atlas soak`
// shortens them so that the sweeper's bound fits a one-minute run.
func runTimings(env *cli, log *slog.Logger) (operations.Options, time.Duration) {
	var o operations.Options
	var sweep time.Duration
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"ATLAS_RUN_QUEUED_TIMEOUT", &o.QueuedTimeout}, {"ATLAS_RUN_HEARTBEAT_TIMEOUT", &o.HeartbeatTimeout},
		{"ATLAS_RUN_HEARTBEAT_INTERVAL", &o.HeartbeatInterval}, {"ATLAS_SWEEP_INTERVAL", &sweep}} {
		d, err := envDuration(env, v.name, 0)
		if err != nil {
			log.Warn("ignoring " + v.name + ": want a positive duration such as 30s")
			continue
		}
		*v.dst = d
	}
	o.GroupCommit = gateGroupCommit(env, log)
	return o, sweep
}

// gateGroupCommit reads ATLAS_GATE_GROUP_COMMIT: true lets concurrent starts share one
// gate transaction (operations.Options.GroupCommit); unset or invalid keeps it off, an
// invalid value is logged.
func gateGroupCommit(env *cli, log *slog.Logger) bool {
	v := env.getenv("ATLAS_GATE_GROUP_COMMIT")
	if v == "" {
		return false
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		log.Warn("ignoring ATLAS_GATE_GROUP_COMMIT: want true or false")
	}
	return on
}

// newGateApp is newApp for the commands that start runs through the gate in bulk (the
// run benchmarks): the gate's group commit follows ATLAS_GATE_GROUP_COMMIT.
func newGateApp(env *cli, c *dbCommand) *monolith.App {
	return monolith.New(c.pool, monolith.Options{Logger: c.log, Operations: operations.Options{GroupCommit: gateGroupCommit(env, c.log)}})
}

// newGraph is the msgraph-sdk-go client. Secret references resolve from the process
// environment (ATLAS_GRAPH_SECRET_*) and ATLAS_SECRETS_DIR. With demoGraph, requests
// for the demo tenants' Graph host are answered in-process by the Graph simulator
// (seed 1, the same data in every process), and the demo's connections sign in with the
// simulator's published client secret unless ATLAS_DEMO_CLIENT_SECRET says otherwise;
// all other requests go to the network. It returns that simulator (nil without demoGraph).
func newGraph(env *cli, log *slog.Logger, demoGraph bool) (graph.Client, *graphsim.Server) {
	opts := msgraph.Options{Logger: log, SecretsDir: env.getenv(graph.SecretsDirEnv), Getenv: env.getenv}
	var sim *graphsim.Server
	if demoGraph {
		sim = graphsim.New(graphsim.Config{Seed: 1, Logger: log})
		opts.HTTPClient = &http.Client{Transport: graphsim.Router{Host: monolith.DemoGraphHost, Sim: sim}}
		opts.Getenv = func(name string) string {
			if v := env.getenv(name); v != "" || name != monolith.DemoSecretEnv {
				return v
			}
			return graphsim.DefaultClientSecret
		}
		log.Warn("the demo Graph simulator answers " + monolith.DemoGraphHost + " in this process (made-up data)")
	}
	return msgraph.New(opts), sim
}

// newLogger returns the process logger on w at the common flags' level: JSON lines, or
// with --log-format text (the default of `atlas dev`) human-readable lines
// "time=15:04:05.000 level=INFO msg=... key=value".
func newLogger(w io.Writer, common commonFlags) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(common.logLevel))); err != nil {
		return nil, usageError{fmt.Sprintf("invalid log level %q (debug, info, warn, error)", common.logLevel)}
	}
	switch common.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: shortTime})), nil
	}
	return nil, usageError{fmt.Sprintf("invalid log format %q (text, json)", common.logFormat)}
}

// shortTime writes a text line's time as the wall clock to the millisecond: a terminal
// needs no date or zone on every line.
func shortTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	return a
}

// databaseURL returns DATABASE_URL, or finds/starts a server when discover is true.
func databaseURL(ctx context.Context, env *cli, log *slog.Logger, discover bool) (string, error) {
	if u := env.getenv("DATABASE_URL"); u != "" || !discover {
		if u == "" {
			return "", fmt.Errorf("DATABASE_URL is not set")
		}
		return u, nil
	}
	srv, err := pglocal.Discover(ctx, pglocal.Options{Logger: log})
	if err != nil {
		return "", err
	}
	return srv.URL, nil
}

// openPool connects to url and checks the connection. Every connection sets the
// server-side timeouts (dbTimeouts).
func openPool(ctx context.Context, url string, maxConns int32, timeouts dbTimeouts) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL")
	}
	timeouts.apply(cfg)
	if maxConns <= 0 {
		// serve and worker hold some connections for long: one per projection leader
		// (LISTEN + advisory lock) and one per watermill subscriber while it hands a
		// message to its handler; the default pool of max(4, CPUs) starves them.
		maxConns = 32
	}
	cfg.MaxConns = maxConns
	eventstore.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, nil
}

// commonFlags are the flags every database command accepts.
type commonFlags struct {
	logLevel  string
	logFormat string
}

func newFlagSet(env *cli, name string, common *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("atlas "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := env.getenv("ATLAS_LOG_LEVEL")
	if def == "" {
		def = "info"
	}
	fs.StringVar(&common.logLevel, "log-level", def, "log level: debug, info, warn, error (env ATLAS_LOG_LEVEL)")
	format := env.getenv("ATLAS_LOG_FORMAT")
	if format == "" {
		// A developer reads `atlas dev` in a terminal; every other process feeds a log
		// collector.
		format = "json"
		if name == "dev" {
			format = "text"
		}
	}
	fs.StringVar(&common.logFormat, "log-format", format, "log format: text or json (env ATLAS_LOG_FORMAT; default text for dev, json otherwise)")
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseCommand parses the flags of a command that takes no arguments: the common ones
// and those extra adds (extra may be nil). It returns the command's logger.
func parseCommand(env *cli, name string, args []string, extra func(*flag.FlagSet)) (*slog.Logger, error) {
	var common commonFlags
	fs := newFlagSet(env, name, &common)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return newLogger(env.stderr, common)
}

// connect opens a pool of at most maxConns connections to DATABASE_URL, with the
// database timeouts of command (dbTimeoutsFor). The caller closes it.
func connect(ctx context.Context, env *cli, log *slog.Logger, command string, maxConns int32) (*pgxpool.Pool, error) {
	url, err := databaseURL(ctx, env, log, false)
	if err != nil {
		return nil, err
	}
	timeouts, err := dbTimeoutsFor(env, command)
	if err != nil {
		return nil, err
	}
	if maxConns <= 0 {
		// ATLAS_DB_MAX_CONNS caps the pool of a long-running process (default 32):
		// `atlas soak` runs several on one server.
		if n, err := strconv.Atoi(env.getenv("ATLAS_DB_MAX_CONNS")); err == nil && n >= 12 && n <= 1000 {
			maxConns = int32(n)
		}
	}
	return openPool(ctx, url, maxConns, timeouts)
}

// dbCommand is what a command that works on the database gets: its logger, its pool
// and its positional arguments.
type dbCommand struct {
	log  *slog.Logger
	pool *pgxpool.Pool
	args []string
}

// openCommand parses the common flags (and the command's own, added by extra), then
// connects to DATABASE_URL. positional says whether arguments may follow the flags.
// The caller closes c.pool.
func openCommand(ctx context.Context, env *cli, name string, args []string, maxConns int32, positional bool, extra func(*flag.FlagSet)) (*dbCommand, error) {
	var common commonFlags
	fs := newFlagSet(env, name, &common)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	if !positional && fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	log, err := newLogger(env.stderr, common)
	if err != nil {
		return nil, err
	}
	pool, err := connect(ctx, env, log, name, maxConns)
	if err != nil {
		return nil, err
	}
	return &dbCommand{log: log, pool: pool, args: fs.Args()}, nil
}
