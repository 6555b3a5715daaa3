package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/historygen"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// The bench workspace's fixed login. It exists only in databases seeded by
// `atlas bench seed`; never use it elsewhere.
const (
	benchWorkspace = "Bench workspace"
	benchEmail     = "bench-owner@bench.test"
	benchPassword  = "bench-owner-password"
	benchToken     = "atl_bench_owner_3c9a1f0e5d7b4e2a8c6f0b1d2e3f4a5b"
)

// benchUser finds the bench owner and the tenants it sees.
func benchUser(ctx context.Context, a *monolith.App) (tenancy.User, []uuid.UUID, error) {
	u, err := a.Tenancy.UserByEmail(ctx, benchEmail)
	if errors.Is(err, tenancy.ErrNotFound) {
		return u, nil, fmt.Errorf("no bench data in this database: run `atlas bench seed` first")
	}
	if err != nil {
		return u, nil, err
	}
	tenants, err := a.Tenancy.VisibleTenants(ctx, u.ID, tenancy.CapOperationsView)
	return u, tenants, err
}

// benchRead is what the read benchmarks (list, search, export) time against: the
// command's pool, the app, the bench owner, the tenants it sees and its workspaces.
type benchRead struct {
	c       *dbCommand
	a       *monolith.App
	u       tenancy.User
	tenants []uuid.UUID
	member  []uuid.UUID
}

// openBenchRead opens a read benchmark's command (its flags by extra) and finds the
// bench owner, its tenants and its workspaces; the caller closes r.c.pool.
func openBenchRead(ctx context.Context, env *cli, name string, args []string, maxConns int32, extra func(*flag.FlagSet)) (*benchRead, error) {
	c, err := openCommand(ctx, env, name, args, maxConns, false, extra)
	if err != nil {
		return nil, err
	}
	r := &benchRead{c: c, a: newApp(c.pool, c.log)}
	if r.u, r.tenants, err = benchUser(ctx, r.a); err == nil {
		r.member, err = r.a.Tenancy.MemberWorkspaces(ctx, r.u.ID)
	}
	if err != nil {
		c.pool.Close()
		return nil, err
	}
	return r, nil
}

// runBenchSeed writes the benchmark data set: a workspace of --tenants tenants (each
// with a working provider connection), an owner, and --runs finished runs spread over
// 90 days; then it seals the log and brings every projection up to date.
func runBenchSeed(ctx context.Context, env *cli, args []string) error {
	var tenants, runs, writers int
	c, err := openCommand(ctx, env, "bench seed", args, 16, false, func(fs *flag.FlagSet) {
		fs.IntVar(&tenants, "tenants", 1000, "tenants in the bench workspace")
		fs.IntVar(&runs, "runs", 1_000_000, "finished runs to generate")
		fs.IntVar(&writers, "writers", 4, "parallel writers")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if tenants <= 0 || runs <= 0 || writers <= 0 {
		return usageError{"--tenants, --runs and --writers must be positive"}
	}
	a := newApp(c.pool, c.log)
	if _, err := a.Tenancy.WorkspaceByName(ctx, benchWorkspace); err == nil {
		return fmt.Errorf("this database holds bench data already: seed a fresh database")
	}
	const actor = "system:bench"
	start := time.Now()
	ws, err := a.Tenancy.CreateWorkspace(ctx, actor, benchWorkspace)
	if err != nil {
		return err
	}
	u, err := a.Tenancy.RegisterUser(ctx, actor, benchEmail, "Bench Owner", benchPassword)
	if err != nil {
		return err
	}
	if err := a.Tenancy.GrantMembership(ctx, actor, tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOwner}); err != nil {
		return err
	}
	if _, err := a.Tenancy.ImportToken(ctx, actor, u.ID, "bench", benchToken); err != nil {
		return err
	}
	ids := make([]uuid.UUID, tenants)
	for i := range ids {
		t, err := a.Tenancy.AddTenant(ctx, actor, ws.ID, fmt.Sprintf("Bench tenant %04d", i+1), fmt.Sprintf("bench-%04d.onmicrosoft.com", i+1))
		if err != nil {
			return err
		}
		if _, err := a.Tenancy.AddProviderConnection(ctx, actor, tenancy.ProviderConnection{TenantID: t.ID, DisplayName: "bench",
			Status: tenancy.ConnectionOK, EntraTenantID: t.ExternalTenantID, ClientID: "00000000-0000-4000-8000-00000000be9c",
			SecretRef: "env:ATLAS_GRAPH_SECRET_BENCH"}); err != nil {
			return err
		}
		ids[i] = t.ID
		countBar(env.stderr, "tenants", int64(i+1), int64(tenants), time.Since(start), "tenants")
	}
	fmt.Fprintln(env.stderr)

	genStart := time.Now()
	var mu sync.Mutex
	err = historygen.Generate(ctx, a.Pool, a.Store, historygen.Spec{WorkspaceID: ws.ID, TenantIDs: ids,
		Initiator: operations.Initiator{Kind: "user", UserID: u.ID, Name: "Bench Owner"},
		Runs:      runs, Span: 90 * 24 * time.Hour, End: time.Now(), Seed: 1, Writers: writers,
		Progress: func(done int64) {
			mu.Lock()
			countBar(env.stderr, "runs", done, int64(runs), time.Since(genStart), "runs")
			mu.Unlock()
		}})
	fmt.Fprintln(env.stderr)
	if err != nil {
		return err
	}
	genTook := time.Since(genStart)

	sealStart := time.Now()
	pending, err := a.Store.Unsealed(ctx)
	if err != nil {
		return err
	}
	for sealed := int64(0); ; {
		n, err := a.Store.Seal(ctx)
		if err != nil {
			return err
		}
		sealed += int64(n)
		countBar(env.stderr, "seal", sealed, pending, time.Since(sealStart), "events")
		if sealed >= pending {
			break
		}
		if n == 0 {
			time.Sleep(50 * time.Millisecond) // an older transaction is still open
		}
	}
	fmt.Fprintln(env.stderr)
	// The read models are built the fastest way there is: a blue/green rebuild of each
	// (pages read ahead, 10,000 events a transaction).
	for _, p := range monolith.Projections() {
		if _, err := a.Runner.Rebuild(ctx, p, func(pr projections.RebuildProgress) { progressBar(env.stderr, p.Name(), pr) }); err != nil {
			return err
		}
		fmt.Fprintln(env.stderr)
	}
	fmt.Fprintf(env.stdout, "bench seed: %d tenants, %d runs (%d events) in %s; runs written at %.0f runs/s\n",
		tenants, runs, pending, time.Since(start).Round(time.Second), float64(runs)/genTook.Seconds())
	fmt.Fprintf(env.stdout, "bench login: %s / %s, token %s\n", benchEmail, benchPassword, benchToken)
	return nil
}

// latencies collects durations and prints percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// pct returns the p-th percentile (nearest rank).
func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	i := int(p/100*float64(len(l.d))+0.5) - 1
	return l.d[min(max(i, 0), len(l.d)-1)]
}

func (l *latencies) String() string {
	return fmt.Sprintf("n=%d p50=%s p95=%s p99=%s max=%s", len(l.d), ms(l.pct(50)), ms(l.pct(95)), ms(l.pct(99)), ms(l.pct(100)))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// listVariants are the tenant list queries `bench list` samples.
var listVariants = []string{"newest", "type", "bucket", "last 7 days", "page 2", "workspace"}

// listPhases is a pgx tracer timing the phases of one List call on the bench's pool:
// the wait for a connection, a statement's preparation (a statement cache miss: parse
// and describe, one more round trip), and the query from its send to its rows' close
// (round trip, planning, execution and decoding into RunSummary).
type listPhases struct {
	mu                      sync.Mutex
	t0                      time.Time
	acquire, prepare, query time.Duration
}

func (p *listPhases) reset() {
	p.mu.Lock()
	p.acquire, p.prepare, p.query = 0, 0, 0
	p.mu.Unlock()
}

func (p *listPhases) start() {
	p.mu.Lock()
	p.t0 = time.Now()
	p.mu.Unlock()
}

func (p *listPhases) end(d *time.Duration) {
	p.mu.Lock()
	*d += time.Since(p.t0)
	p.mu.Unlock()
}

func (p *listPhases) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	p.start()
	return ctx
}

func (p *listPhases) TraceAcquireEnd(_ context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	p.end(&p.acquire)
}

// The query's span encloses a preparation, so the prepare phase keeps its own clock.
type prepareStart struct{}

func (p *listPhases) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	return context.WithValue(ctx, prepareStart{}, time.Now())
}

func (p *listPhases) TracePrepareEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareEndData) {
	if t0, ok := ctx.Value(prepareStart{}).(time.Time); ok {
		p.mu.Lock()
		p.prepare += time.Since(t0)
		p.mu.Unlock()
	}
}

func (p *listPhases) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	p.start()
	return ctx
}

func (p *listPhases) TraceQueryEnd(_ context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	p.end(&p.query)
}

// bareList runs a list statement on a connection the caller holds and reads its rows
// as the server sent them, decoding nothing: the bare query List is measured against.
func bareList(ctx context.Context, conn *pgxpool.Conn, sql string, args []any) error {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		_ = rows.RawValues()
	}
	rows.Close()
	return rows.Err()
}

// explainTimes returns the planning and execution time the server reports for sql
// (EXPLAIN ANALYZE: a plan made for these values).
func explainTimes(ctx context.Context, conn *pgxpool.Conn, sql string, args []any) (plan, exec time.Duration, err error) {
	var out []map[string]any
	if err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
		return 0, 0, err
	}
	if len(out) == 0 {
		return 0, 0, fmt.Errorf("empty EXPLAIN")
	}
	msf := func(k string) time.Duration {
		v, _ := out[0][k].(float64)
		return time.Duration(v * float64(time.Millisecond))
	}
	return msf("Planning Time"), msf("Execution Time"), nil
}

// runBenchList times the tenant list query (the read the API and the hub make) on
// random bench tenants and filters, and prints percentiles per variant and overall.
// Beside every List call, in the same loop and in alternating order, it times the
// bare query (the same statement and arguments on a held connection, rows read
// undecoded) and splits List into its phases (connection wait, statement preparation,
// query with decoding, the rest); every tenth sample also asks the server for its
// planning and execution time (EXPLAIN ANALYZE).
func runBenchList(ctx context.Context, env *cli, args []string) error {
	var samples int
	br, err := openBenchRead(ctx, env, "bench list", args, 8, func(fs *flag.FlagSet) {
		fs.IntVar(&samples, "samples", 5000, "queries to time")
	})
	if err != nil {
		return err
	}
	defer br.c.pool.Close()
	a, tenants, member := br.a, br.tenants, br.member
	workspaces, err := a.Tenancy.VisibleWorkspaces(ctx, br.u.ID, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	whole, err := a.Tenancy.WholeWorkspaces(ctx, br.u.ID, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	// List runs on a pool of its own, configured as the command's, with the tracer.
	phases := &listPhases{}
	cfg := br.c.pool.Config()
	cfg.ConnConfig.Tracer = phases
	tracedPool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer tracedPool.Close()
	runs := projections.NewRunReader(tracedPool)
	held, err := br.c.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer held.Release()

	types := operations.Types()
	buckets := []operations.Bucket{operations.BucketSucceeded, operations.BucketFailed, operations.BucketPartiallySucceeded}
	r := rand.New(rand.NewPCG(7, 7))
	all, bare := &latencies{}, &latencies{}
	acquire, prepare, query, rest := &latencies{}, &latencies{}, &latencies{}, &latencies{}
	planned, executed := &latencies{}, &latencies{}
	per := map[string]*latencies{}
	perBare := map[string]*latencies{}
	for _, v := range listVariants {
		per[v], perBare[v] = &latencies{}, &latencies{}
	}
	for i := range samples + samples/10 {
		f := projections.RunFilter{TenantIDs: tenants, WorkspaceIDs: workspaces, Workspaces: member,
			Tenant: tenants[r.IntN(len(tenants))], Limit: 50}
		f.SetWholeWorkspaces(whole) // as the hub's restrictToVisible
		v := listVariants[r.IntN(len(listVariants))]
		switch v {
		case "workspace":
			f.Tenant = uuid.Nil // every tenant of the workspace, newest first
		case "type":
			f.Type = types[r.IntN(len(types))].Type
		case "bucket":
			f.Bucket = buckets[r.IntN(len(buckets))]
		case "last 7 days":
			f.Since = time.Now().Add(-7 * 24 * time.Hour)
		case "page 2":
			_, next, err := runs.List(ctx, f)
			if err != nil {
				return err
			}
			f.Cursor = next
		}
		sql, sqlArgs, ok, err := projections.ListStatement(f)
		if err != nil || !ok {
			return fmt.Errorf("list statement of %s: ok=%v %w", v, ok, err)
		}
		var dList, dBare time.Duration
		timeList := func() error {
			phases.reset()
			t0 := time.Now()
			_, _, err := runs.List(ctx, f)
			dList = time.Since(t0)
			return err
		}
		timeBare := func() error {
			t0 := time.Now()
			err := bareList(ctx, held, sql, sqlArgs)
			dBare = time.Since(t0)
			return err
		}
		first, second := timeList, timeBare
		if i%2 == 1 {
			first, second = timeBare, timeList
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		if i < samples/10 {
			continue // warm-up
		}
		all.add(dList)
		per[v].add(dList)
		bare.add(dBare)
		perBare[v].add(dBare)
		phases.mu.Lock()
		acquire.add(phases.acquire)
		prepare.add(phases.prepare)
		query.add(phases.query)
		rest.add(max(dList-phases.acquire-phases.query, 0))
		phases.mu.Unlock()
		if i%10 == 0 {
			p, e, err := explainTimes(ctx, held, sql, sqlArgs)
			if err != nil {
				return err
			}
			planned.add(p)
			executed.add(e)
		}
	}
	for _, v := range listVariants {
		fmt.Fprintf(env.stdout, "tenant list %-12s %s  (bare p50=%s p99=%s)\n", v, per[v], ms(perBare[v].pct(50)), ms(perBare[v].pct(99)))
	}
	fmt.Fprintf(env.stdout, "run lists (all)          %s\n", all)
	fmt.Fprintf(env.stdout, "bare query (same run)    %s\n", bare)
	fmt.Fprintf(env.stdout, "list p99 / bare p99      %.2f\n", float64(all.pct(99))/float64(max(bare.pct(99), 1)))
	fmt.Fprintf(env.stdout, "phases of List: connection wait %s\n", acquire)
	fmt.Fprintf(env.stdout, "                statement prepare %s\n", prepare)
	fmt.Fprintf(env.stdout, "                query + decode %s\n", query)
	fmt.Fprintf(env.stdout, "                rest (Go, outside pgx) %s\n", rest)
	fmt.Fprintf(env.stdout, "server (EXPLAIN ANALYZE, every 10th): planning %s\n", planned)
	fmt.Fprintf(env.stdout, "                                     execution %s\n", executed)
	return nil
}

var csrfInput = regexp.MustCompile(`name="([^"]*csrf[^"]*)" value="([^"]*)"`)

// runBenchHTTP is a load generator for the hub on loopback: it logs in as the bench
// owner and keeps --concurrency clients requesting tenant run lists (or the workspace
// list with --workspace) for --duration, then prints req/s and latency percentiles.
func runBenchHTTP(ctx context.Context, env *cli, args []string) error {
	var target string
	var concurrency int
	var duration time.Duration
	var workspace, overview bool
	c, err := openCommand(ctx, env, "bench http", args, 4, false, func(fs *flag.FlagSet) {
		fs.StringVar(&target, "url", "http://127.0.0.1:8080", "the hub's base URL (a running `atlas serve` on this database)")
		fs.IntVar(&concurrency, "concurrency", 16, "parallel clients")
		fs.DurationVar(&duration, "duration", 10*time.Second, "how long to load")
		fs.BoolVar(&workspace, "workspace", false, "request the workspace-wide list instead of tenant lists")
		fs.BoolVar(&overview, "overview", false, "request the overview (/admin/t/{tenant}, or /admin with --workspace) instead of the lists")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	_, tenants, err := benchUser(ctx, newApp(c.pool, c.log))
	if err != nil {
		return err
	}
	c.pool.Close()
	base, err := url.Parse(target)
	if err != nil || base.Host == "" {
		return usageError{"--url must be an absolute URL"}
	}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}
	client := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
	if err := hubLogin(ctx, client, target); err != nil {
		return err
	}
	var ok, failed, bytesRead atomic.Int64
	lat := &latencies{}
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				path := "/admin/operations"
				if !workspace {
					path = "/admin/t/" + tenants[r.IntN(len(tenants))].String() + "/operations"
				}
				if overview {
					path = strings.TrimSuffix(path, "/operations")
					if workspace {
						path = "/admin"
					}
				}
				t0 := time.Now()
				resp, err := client.Get(target + path)
				if err != nil {
					failed.Add(1)
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				lat.add(time.Since(t0))
				ok.Add(1)
				bytesRead.Add(n)
			}
		})
	}
	wg.Wait()
	what := "tenant run list pages"
	if workspace {
		what = "workspace run list pages"
	}
	if overview {
		what = strings.Replace(what, "run list", "overview", 1)
	}
	fmt.Fprintf(env.stdout, "hub http (%s, %d clients, %s): %.0f req/s, %d ok, %d failed, %.1f KiB/page; latency %s\n",
		what, concurrency, duration, float64(ok.Load())/duration.Seconds(), ok.Load(), failed.Load(),
		float64(bytesRead.Load())/max(float64(ok.Load()), 1)/1024, lat)
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}

// hubLogin signs the bench owner in through the login form.
func hubLogin(ctx context.Context, client *http.Client, target string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", target+"/admin/login", nil)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("hub not reachable at %s: %w", target, err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		return fmt.Errorf("the login page has no CSRF field")
	}
	form := url.Values{"email": {benchEmail}, "password": {benchPassword}, string(m[1]): {string(m[2])}}
	req, _ = http.NewRequestWithContext(ctx, "POST", target+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/admin/operations") {
		return fmt.Errorf("login as %s failed (HTTP %d at %s)", benchEmail, resp.StatusCode, resp.Request.URL.Path)
	}
	return nil
}

// runBenchLag starts runs through the gate at --rate per second for --duration with
// the whole background (sealer, workers, projections) running in this process, and
// reports how far the hub projection trails the log (events) and how long a started
// run takes to show up in the hub's read model.
func runBenchLag(ctx context.Context, env *cli, args []string) error {
	var rate, workers int
	var duration time.Duration
	c, err := openCommand(ctx, env, "bench lag", args, 48, false, func(fs *flag.FlagSet) {
		fs.IntVar(&rate, "rate", 100, "run starts per second")
		fs.DurationVar(&duration, "duration", 30*time.Second, "how long to load")
		fs.IntVar(&workers, "workers", 0, "run slots of the in-process worker (0: the workers' default, as `atlas serve` runs them)")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if rate <= 0 || duration <= 0 || workers < 0 {
		return usageError{"--rate and --duration must be positive, --workers not negative"}
	}
	a := newGateApp(env, c)
	starts, err := newBenchStarts(ctx, a)
	if err != nil {
		return err
	}
	starts.handle(true)
	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	a.Background(bgCtx, &bg, operations.WorkerOptions{Concurrency: workers})
	bg.Go(func() { servePprof(bgCtx, env.getenv("ATLAS_PPROF_ADDR"), c.log) })
	defer func() { stopBg(); bg.Wait() }()
	hub := projections.HubRuns{}

	var started, notAccepted atomic.Int64
	var outcomes sync.Map // the statuses of starts not accepted
	visible, sealed := &latencies{}, &latencies{}
	var lagMu sync.Mutex
	var lags []int64
	loadCtx, stopLoad := context.WithTimeout(ctx, duration)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() { // sample the lag every 100 ms
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-tk.C:
			}
			st, err := a.Runner.Status(loadCtx, hub)
			if err == nil && len(st) == 1 {
				unsealed, _ := a.Store.Unsealed(loadCtx)
				lagMu.Lock()
				lags = append(lags, st[0].Lag+unsealed)
				lagMu.Unlock()
			}
		}
	})
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	t0 := time.Now()
	for i := 0; ; i++ {
		select {
		case <-loadCtx.Done():
		case <-tick.C:
		}
		if loadCtx.Err() != nil {
			break
		}
		wg.Go(func() {
			out, err := starts.start(loadCtx, i)
			if err != nil || out.Status != operations.StartAccepted {
				notAccepted.Add(1)
				status := "error"
				if err == nil {
					status = string(out.Status)
				}
				outcomes.Store(status, true)
				return
			}
			started.Add(1)
			if i%10 != 0 {
				return
			}
			s0 := time.Now()
			stream := string(operations.RunStream(out.Run.ID))
			isSealed := false
			for loadCtx.Err() == nil {
				if !isSealed {
					err := c.pool.QueryRow(loadCtx, `SELECT global_position IS NOT NULL FROM es_events
						WHERE stream_id = $1 AND stream_version = 1`, eventstore.PlanEachTime, stream).Scan(&isSealed)
					if err != nil {
						return
					}
					if isSealed {
						sealed.add(time.Since(s0))
					}
				}
				var one int
				err := c.pool.QueryRow(loadCtx, `SELECT 1 FROM rm_runs WHERE run_id = $1`, eventstore.PlanEachTime, out.Run.ID).Scan(&one)
				if err == nil {
					visible.add(time.Since(s0))
					return
				}
				if !errors.Is(err, pgx.ErrNoRows) {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	elapsed := time.Since(t0)
	wg.Wait()
	slices.Sort(lags)
	p := func(q float64) int64 {
		if len(lags) == 0 {
			return 0
		}
		return lags[min(len(lags)-1, int(q/100*float64(len(lags))))]
	}
	var others []string
	outcomes.Range(func(k, _ any) bool { others = append(others, k.(string)); return true })
	fmt.Fprintf(env.stdout, "lag under load: %.0f starts/s accepted (%d accepted, %d not: %v) for %s\n",
		float64(started.Load())/elapsed.Seconds(), started.Load(), notAccepted.Load(), others, elapsed.Round(time.Second))
	fmt.Fprintf(env.stdout, "hub_runs lag (events not yet applied, sampled every 100ms): p50=%d p99=%d max=%d\n", p(50), p(99), p(100))
	fmt.Fprintf(env.stdout, "start → sealed (global position given): %s\n", sealed)
	fmt.Fprintf(env.stdout, "start → visible in the hub read model: %s\n", visible)
	return nil
}

// runBenchRebuild rebuilds the hub projection (blue/green, as `projections rebuild`
// does: the log read in pages, folded in memory, the rows loaded with COPY, the indexes
// made after the load) and, in the same run, times the like-for-like baseline: a raw
// scan of the same events (the rebuild's query and page size, no decoding) plus a COPY
// of the same final rows into a scratch table of the same layout. It prints events/s for
// both, their ratio and the process's peak RSS; --repeat N does it N times and prints
// the medians.
func runBenchRebuild(ctx context.Context, env *cli, args []string) error {
	var repeat int
	c, err := openCommand(ctx, env, "bench rebuild", args, 8, false, func(fs *flag.FlagSet) {
		fs.IntVar(&repeat, "repeat", 1, "rebuilds (each with its baseline) to time; the medians are printed")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if repeat <= 0 {
		return usageError{"--repeat must be positive"}
	}
	a := newApp(c.pool, c.log)
	hub := projections.HubRuns{}
	live := pgx.Identifier{hub.Tables()[0].Name}.Sanitize()
	defer c.pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS bench_rebuild_baseline`) //nolint:errcheck
	var rebuildRates, baseRates, ratios []float64
	for i := range repeat {
		res, err := a.Runner.Rebuild(ctx, hub, func(pr projections.RebuildProgress) { progressBar(env.stderr, hub.Name(), pr) })
		fmt.Fprintln(env.stderr)
		if err != nil {
			return err
		}
		st, _ := a.Runner.LastBulkStats()
		rss := peakRSS()

		// The baseline: the same pages of the log, scanned and not decoded …
		t0 := time.Now()
		var events, at int64
		for {
			envs, err := a.Store.ReadAllRaw(ctx, at, projections.BulkPage)
			if err != nil {
				return err
			}
			if len(envs) == 0 {
				break
			}
			events += int64(len(envs))
			at = envs[len(envs)-1].Position
		}
		scan := time.Since(t0)
		// … and the final rows COPYed (binary, as pgx's CopyFrom sends them) into a
		// table of the same layout, without indexes (the rebuild makes those after it).
		if _, err := c.pool.Exec(ctx, `DROP TABLE IF EXISTS bench_rebuild_baseline;
			CREATE TABLE bench_rebuild_baseline (LIKE `+live+`)`); err != nil {
			return err
		}
		t1 := time.Now()
		rows, err := copyTable(ctx, c, live, "bench_rebuild_baseline")
		if err != nil {
			return err
		}
		cp := time.Since(t1)
		base := scan + cp
		rebuildRate := float64(res.Events) / res.Duration.Seconds()
		baseRate := float64(events) / base.Seconds()
		rebuildRates, baseRates = append(rebuildRates, rebuildRate), append(baseRates, baseRate)
		ratios = append(ratios, rebuildRate/baseRate)
		fmt.Fprintf(env.stdout, "run %d: hub_runs rebuild: %d events → %d rows in %s = %.0f events/s (load %s, indexes %s, late events %d in %s, swap %s); peak RSS %s\n",
			i+1, res.Events, st.Rows, res.Duration.Round(time.Millisecond), rebuildRate, st.Load.Round(time.Millisecond),
			st.Indexes.Round(time.Millisecond), st.LateEvents, st.Late.Round(time.Millisecond), st.Swap.Round(time.Millisecond), rss)
		fmt.Fprintf(env.stdout, "run %d: baseline: raw scan of %d events %s + COPY of %d rows %s = %s = %.0f events/s; rebuild at %.0f%% of it\n",
			i+1, events, scan.Round(time.Millisecond), rows, cp.Round(time.Millisecond), base.Round(time.Millisecond), baseRate, 100*rebuildRate/baseRate)
	}
	fmt.Fprintf(env.stdout, "median of %d: rebuild %.0f events/s, baseline %.0f events/s, rebuild/baseline %.0f%%; peak RSS of the process %s\n",
		repeat, median(rebuildRates), median(baseRates), 100*median(ratios), peakRSS())
	return nil
}

// copyTable COPYs every row of from into to (binary format, through a pipe between two
// connections) and returns how many rows it wrote.
func copyTable(ctx context.Context, c *dbCommand, from, to string) (int64, error) {
	src, err := c.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer src.Release()
	dst, err := c.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer dst.Release()
	pr, pw := io.Pipe()
	out := make(chan error, 1)
	go func() {
		_, err := src.Conn().PgConn().CopyTo(ctx, pw, `COPY `+from+` TO STDOUT (FORMAT binary)`)
		pw.CloseWithError(err)
		out <- err
	}()
	tag, err := dst.Conn().PgConn().CopyFrom(ctx, pr, `COPY `+to+` FROM STDIN (FORMAT binary)`)
	pr.CloseWithError(err)
	if err2 := <-out; err == nil {
		err = err2
	}
	return tag.RowsAffected(), err
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peakRSS is the process's peak resident set size (VmHWM of /proc/self/status), or
// "unknown" where there is none.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(v), &kb); err == nil {
				return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
			}
		}
	}
	return "unknown"
}
