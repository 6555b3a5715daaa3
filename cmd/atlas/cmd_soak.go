package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// The children's run liveness settings (runTimings): short, so that every run a
// killed worker held is ended by the sweeper within the soak.
var soakTimings = map[string]string{
	"ATLAS_RUN_QUEUED_TIMEOUT":     "20s",
	"ATLAS_RUN_HEARTBEAT_TIMEOUT":  "6s",
	"ATLAS_RUN_HEARTBEAT_INTERVAL": "1s",
	"ATLAS_SWEEP_INTERVAL":         "2s",
}

// soakRunBound is the sweeper's bound on a run's life with soakTimings: queued at most
// 20 s, silent at most 6 s, two sweeps, and 30 s for a handler working against a
// throttled, slow Graph.
const soakRunBound = 20*time.Second + 6*time.Second + 2*2*time.Second + 30*time.Second

// soakHandoverMax is how fast another process must take over a killed leader's projection.
const soakHandoverMax = 5 * time.Second

// soakProjection is the projection whose leader the soak kills (the hub's run list).
var soakProjection = projections.HubRuns{}.Name()

// soak is one soak run: its database, children, load statistics and faults.
type soak struct {
	duration     time.Duration
	tenants      int
	concurrency  int
	processes    int
	keep         bool
	out          io.Writer
	log          *slog.Logger
	bin          string
	adminURL     string
	dbName       string
	dbURL        string
	pool         *pgxpool.Pool
	app          *monolith.App
	secret       string
	sessionKey   string
	seed         monolith.DemoSeed
	tenantIDs    []string
	entraIDs     []string
	sim          *soakChild
	serves       []*soakChild
	workers      []*soakChild
	stats        soakStats
	faultsMu     sync.Mutex
	faults       []soakFault
	handovers    []time.Duration
	leaderChecks leaderStats
	baselines    map[string]soakSample
	// tamper, set by a test, changes the live read models before they are compared
	// with a rebuild: the comparison must then fail.
	tamper func(context.Context) error
}

func runSoak(ctx context.Context, env *cli, args []string) error {
	s := &soak{out: env.stdout}
	var common commonFlags
	fs := newFlagSet(env, "soak", &common)
	fs.DurationVar(&s.duration, "duration", 60*time.Second, "how long the load and the faults go on")
	fs.IntVar(&s.tenants, "tenants", 20, "managed tenants (each with a provider connection to the simulator)")
	fs.IntVar(&s.concurrency, "concurrency", 16, "concurrent API callers")
	fs.IntVar(&s.processes, "processes", 1, "serve and worker processes each (on one database)")
	fs.BoolVar(&s.keep, "keep", false, "keep the soak database (dropped otherwise)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case s.duration < 10*time.Second || s.duration > 24*time.Hour:
		return usageError{"--duration must be from 10s to 24h"}
	case s.tenants < 3 || s.tenants > 1000:
		return usageError{"--tenants must be from 3 to 1000"}
	case s.concurrency < 1 || s.concurrency > 512:
		return usageError{"--concurrency must be from 1 to 512"}
	case s.processes < 1 || s.processes > 8:
		return usageError{"--processes must be from 1 to 8"}
	}
	log, err := newLogger(env.stderr, common)
	if err != nil {
		return err
	}
	s.log = log
	if s.adminURL, err = databaseURL(ctx, env, log, true); err != nil {
		return err
	}
	if s.bin, err = os.Executable(); err != nil {
		return fmt.Errorf("find the atlas binary: %w", err)
	}
	violations, err := s.run(ctx)
	if err != nil {
		return err
	}
	if violations > 0 {
		return fmt.Errorf("%d invariant(s) violated", violations)
	}
	return nil
}

// run sets up, loads, injects faults, checks, and tears down; it returns the number of
// violated invariants.
func (s *soak) run(ctx context.Context) (int, error) {
	defer s.teardown()
	if err := s.setup(ctx); err != nil {
		return 0, err
	}
	fmt.Fprintf(s.out, "soak: database %s, %d serve + %d worker processes, %d tenants, %d callers, %s\n",
		s.dbName, len(s.serves), len(s.workers), s.tenants, s.concurrency, s.duration)
	if err := s.warmUp(ctx); err != nil {
		return 0, err
	}

	loadCtx, stopLoad := context.WithTimeout(ctx, s.duration)
	defer stopLoad()
	var wg sync.WaitGroup
	for i := range s.concurrency {
		wg.Go(func() { s.caller(loadCtx, i) })
	}
	for i := range max(1, s.concurrency/4) {
		wg.Go(func() { s.viewer(loadCtx, i) })
	}
	wg.Go(func() { s.watchLeaders(loadCtx) })
	faultErr := make(chan error, 1)
	go func() { faultErr <- s.injectFaults(loadCtx) }()
	wg.Wait()
	if err := <-faultErr; err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	fmt.Fprintf(s.out, "soak: load done: %s\n", s.stats.summary())
	return s.check(ctx)
}

// setup creates the database, seeds it, and starts the simulator, the servers and the workers.
func (s *soak) setup(ctx context.Context) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.secret = "soak-secret-" + hex.EncodeToString(b[:])
	_, _ = rand.Read(b[:])
	s.sessionKey = "soak-session-key-" + hex.EncodeToString(b[:]) + hex.EncodeToString(b[:])
	s.dbName = fmt.Sprintf("atlas_soak_%d", time.Now().UnixNano())
	var err error
	if s.dbURL, err = ensureDatabase(ctx, s.adminURL, s.dbName); err != nil {
		return err
	}
	if s.pool, err = openPool(ctx, withAppName(s.dbURL, "atlas-soak"), 8, dbTimeouts{}); err != nil {
		return err
	}
	if err := monolith.Migrate(ctx, s.pool); err != nil {
		return err
	}
	s.app = monolith.New(s.pool, monolith.Options{Logger: slog.New(slog.DiscardHandler), BcryptCost: 4})
	if s.seed, err = monolith.SeedDemo(ctx, s.app); err != nil {
		return err
	}
	for _, t := range s.seed.Tenants {
		s.tenantIDs = append(s.tenantIDs, t.ID.String())
	}
	for i := len(s.seed.Tenants); i < s.tenants; i++ {
		entra := fmt.Sprintf("soak-%03d.onmicrosoft.com", i)
		t, err := s.app.Tenancy.AddTenant(ctx, tenancy.SystemActor("soak"), s.seed.Workspace, fmt.Sprintf("Soak tenant %03d", i), entra)
		if err != nil {
			return err
		}
		if _, err := s.app.Tenancy.AddProviderConnection(ctx, tenancy.SystemActor("soak"), tenancy.ProviderConnection{
			TenantID: t.ID, Provider: "microsoft", DisplayName: "Graph simulator (soak)", Status: tenancy.ConnectionOK,
			EntraTenantID: entra, ClientID: "00000000-0000-4000-8000-00000000504b", SecretRef: "env:ATLAS_GRAPH_SECRET_SOAK",
		}); err != nil {
			return err
		}
		s.tenantIDs = append(s.tenantIDs, t.ID.String())
	}
	// Every connection's Entra tenant, for per-tenant simulator faults.
	for _, id := range s.tenantIDs {
		pc, err := s.app.Tenancy.DefaultConnection(ctx, uuid.MustParse(id))
		if err != nil {
			return err
		}
		s.entraIDs = append(s.entraIDs, pc.EntraTenantID)
	}

	simAddr, err := freeAddr()
	if err != nil {
		return err
	}
	s.sim = &soakChild{name: "graph-sim", kind: "graph-sim", bin: s.bin, addr: simAddr,
		args: []string{"graph-sim", "--addr", simAddr, "--control", "--client-secret", s.secret, "--groups", "30", "--policies", "3", "--page-size", "20"},
		env:  childEnv(nil)}
	if err := s.sim.start(ctx); err != nil {
		return err
	}
	if err := monolith.PointDemoAtGraph(ctx, s.app, monolith.DemoSeed{Tenants: allTenants(s.tenantIDs)}, "http://"+simAddr); err != nil {
		return err
	}
	for i := 1; i <= s.processes; i++ {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("serve-%d", i)
		s.serves = append(s.serves, &soakChild{name: name, kind: "serve", bin: s.bin, addr: addr,
			args: []string{"serve", "--addr", addr, "--shutdown-timeout", "5s"}, env: s.childEnv(name)})
		name = fmt.Sprintf("worker-%d", i)
		s.workers = append(s.workers, &soakChild{name: name, kind: "worker", bin: s.bin,
			args: []string{"worker", "--shutdown-timeout", "5s"}, env: s.childEnv(name)})
	}
	for _, c := range append(append([]*soakChild{}, s.serves...), s.workers...) {
		if err := c.start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// childEnv is the environment of a serve or worker called name.
func (s *soak) childEnv(name string) []string {
	env := map[string]string{
		"DATABASE_URL":               withAppName(s.dbURL, "soak-"+name),
		"ATLAS_GRAPH_SECRET_SOAK":    s.secret,
		monolith.DemoSecretEnv:       s.secret,
		"ATLAS_SESSION_KEY":          s.sessionKey,
		"ATLAS_WORKER_ID":            name,
		"ATLAS_LOG_LEVEL":            "info",
		"ATLAS_MAX_STREAMS_PER_USER": "64",
		// Every process on one server: 32 connections each would pass PostgreSQL's
		// default max_connections of 100 with two of each.
		"ATLAS_DB_MAX_CONNS": fmt.Sprint(max(12, min(30, 64/(2*s.processes)-2))),
	}
	for k, v := range soakTimings {
		env[k] = v
	}
	return childEnv(env)
}

// withAppName sets the application_name of a database URL: pg_stat_activity then
// names the process behind every backend.
func withAppName(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// teardown stops every child and drops the database (unless --keep).
func (s *soak) teardown() {
	var wg sync.WaitGroup
	for _, c := range append(append([]*soakChild{}, s.serves...), s.workers...) {
		wg.Go(func() { c.stop(15 * time.Second) })
	}
	wg.Wait()
	if s.sim != nil {
		s.sim.stop(5 * time.Second)
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.dbName == "" || s.keep {
		if s.keep {
			fmt.Fprintf(s.out, "soak: kept database %s\n", s.dbName)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		s.log.Warn("could not drop the soak database", "database", s.dbName)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
		s.log.Warn("could not drop the soak database", "database", s.dbName)
	}
}

// leaderLockKey is the advisory lock key of a projection's leader (projections.Runner).
func leaderLockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("projection:" + name))
	return int64(h.Sum64() & 0x7fffffffffffffff)
}

// leader is the backend pid and application name holding a projection's leader lock
// (0 when nobody leads).
func (s *soak) leader(ctx context.Context, name string) (int, string, int, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, "", 0, err
	}
	defer conn.Release()
	return leaderOn(ctx, conn.Conn(), name)
}

// leaderOn is leader on a connection of the caller's.
func leaderOn(ctx context.Context, conn *pgx.Conn, name string) (int, string, int, error) {
	key := leaderLockKey(name)
	var pid, holders int
	var app string
	err := conn.QueryRow(ctx, `SELECT COALESCE(min(l.pid), 0), COALESCE(min(a.application_name), ''), count(*)
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND ((l.classid::text::bigint << 32) | l.objid::text::bigint) = $1`, key).Scan(&pid, &app, &holders)
	return pid, app, holders, err
}

// child finds the serve or worker whose backends carry application name app.
func (s *soak) child(app string) *soakChild {
	for _, c := range append(append([]*soakChild{}, s.serves...), s.workers...) {
		if "soak-"+c.name == app {
			return c
		}
	}
	return nil
}

// leaderStats are the samples of who leads each projection.
type leaderStats struct {
	mu          sync.Mutex
	samples     int
	doubles     []string
	regressions []string
	leaders     map[string]bool // application names seen leading
}

// watchLeaders samples every projection's leader lock and checkpoint until ctx ends:
// never two holders, never a checkpoint going back.
func (s *soak) watchLeaders(ctx context.Context) {
	ps := monolith.Projections()
	last := map[string]int64{}
	s.leaderChecks.leaders = map[string]bool{}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range ps {
			_, app, holders, err := s.leader(ctx, p.Name())
			if err != nil {
				continue
			}
			var cp int64
			if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(position), 0) FROM proj_checkpoints WHERE name = $1 AND version = $2`, p.Name(), p.Version()).Scan(&cp); err != nil {
				cp = -1
			}
			s.leaderChecks.mu.Lock()
			s.leaderChecks.samples++
			if holders > 1 {
				s.leaderChecks.doubles = append(s.leaderChecks.doubles, fmt.Sprintf("%s held by %d processes", p.Name(), holders))
			}
			if app != "" {
				s.leaderChecks.leaders[app] = true
			}
			if cp >= 0 && cp < last[p.Name()] {
				s.leaderChecks.regressions = append(s.leaderChecks.regressions, fmt.Sprintf("%s checkpoint %d → %d", p.Name(), last[p.Name()], cp))
			}
			if cp > last[p.Name()] {
				last[p.Name()] = cp
			}
			s.leaderChecks.mu.Unlock()
		}
	}
}

// addFault records a fault.
func (s *soak) addFault(f soakFault) {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	s.faults = append(s.faults, f)
}

// faultSummary counts the faults by kind, with their details.
func (s *soak) faultSummary() []string {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	byKind := map[string][]string{}
	var kinds []string
	for _, f := range s.faults {
		if _, ok := byKind[f.Kind]; !ok {
			kinds = append(kinds, f.Kind)
		}
		byKind[f.Kind] = append(byKind[f.Kind], f.Start.UTC().Format("15:04:05")+" "+f.Detail)
	}
	sort.Strings(kinds)
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("fault %s: %d× (%s)", k, len(byKind[k]), strings.Join(byKind[k], "; ")))
	}
	return out
}

// allTenants are ids as DemoTenants (PointDemoAtGraph's input).
func allTenants(ids []string) []monolith.DemoTenant {
	out := make([]monolith.DemoTenant, 0, len(ids))
	for _, id := range ids {
		out = append(out, monolith.DemoTenant{ID: uuid.MustParse(id), Name: id})
	}
	return out
}

// sealAll seals every committed event.
func (s *soak) sealAll(ctx context.Context) error {
	store := eventstore.New(s.pool, eventstore.Options{Registry: monolith.Registry()})
	return store.SealCommitted(ctx)
}
