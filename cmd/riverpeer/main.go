// Command riverpeer is the peer the start gate and the run path are measured against:
// River (github.com/riverqueue/river) doing the same work on the same database, in the
// same run of `go tool task bench:peer`.
//
//	riverpeer insert --jobs N --callers C   unique jobs (UniqueOpts ByArgs, distinct args), one insert per transaction
//	riverpeer e2e    --jobs N --callers C   the same inserts while a River client works them with a no-op worker
//	riverpeer db fresh|drop NAME            (for bench:peer) drop NAME, create it empty, print its URL / drop it
//
// It is a module of its own (cmd/riverpeer/go.mod), so the product never depends on
// River. River's tables live in a schema of their own (--schema, default river_peer),
// created and migrated with rivermigrate on every start, so they never meet the
// product's. DATABASE_URL names the database. The last line of each mode is the
// machine-readable result:
//
//	river insert: R jobs/s, p99 X ms
//	river e2e: R jobs/s, insert→completed p99 X ms
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// noopArgs is the job: Seq makes every job's args, and so its unique key, distinct.
type noopArgs struct {
	Seq int64 `json:"seq"`
}

func (noopArgs) Kind() string { return "peer_noop" }

// noopWorker completes every job at once.
type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// options are one run's flags.
type options struct {
	mode          string
	jobs, callers int
	workers       int
	fetchCooldown time.Duration
	schema        string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Getenv("DATABASE_URL"), os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "riverpeer: %s\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func parse(args []string) (options, error) {
	var o options
	if len(args) == 0 || (args[0] != "insert" && args[0] != "e2e") {
		return o, usageError{"usage: riverpeer insert|e2e --jobs N --callers C [--workers W] [--fetch-cooldown D] [--schema S] | db fresh|drop NAME"}
	}
	o.mode = args[0]
	fs := flag.NewFlagSet("riverpeer "+o.mode, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.jobs, "jobs", 20000, "jobs to insert")
	fs.IntVar(&o.callers, "callers", 8, "concurrent inserting callers")
	fs.IntVar(&o.workers, "workers", 100, "e2e: the queue's MaxWorkers")
	fs.DurationVar(&o.fetchCooldown, "fetch-cooldown", 0, "e2e: River's FetchCooldown (0: River's default)")
	fs.StringVar(&o.schema, "schema", "river_peer", "the schema River's tables live in")
	if err := fs.Parse(args[1:]); err != nil {
		return o, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if o.jobs <= 0 || o.callers <= 0 || o.workers <= 0 {
		return o, usageError{"--jobs, --callers and --workers must be positive"}
	}
	return o, nil
}

func run(ctx context.Context, out io.Writer, dsn string, args []string) error {
	if len(args) > 0 && args[0] == "db" {
		return freshDB(ctx, out, dsn, args[1:])
	}
	o, err := parse(args)
	if err != nil {
		return err
	}
	if dsn == "" {
		return usageError{"DATABASE_URL is not set"}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return usageError{"DATABASE_URL is not a PostgreSQL URL"}
	}
	cfg.MaxConns = int32(o.callers + 16)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrate(ctx, pool, o.schema); err != nil {
		return err
	}
	// Every run starts from empty tables, as the product's side does from a fresh run.
	if _, err := pool.Exec(ctx, "TRUNCATE "+pgx.Identifier{o.schema, "river_job"}.Sanitize()); err != nil {
		return fmt.Errorf("empty river_job: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.mode == "insert" {
		return benchInsert(ctx, out, pool, log, o)
	}
	return benchE2E(ctx, out, pool, log, o)
}

// migrate creates River's schema and brings its tables up to date.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("rivermigrate: %w", err)
	}
	return nil
}

// uniqueOpts makes every insert a unique insert: by args, which differ per job.
var uniqueOpts = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}

// insertAll has o.callers goroutines insert o.jobs distinct unique jobs, one Insert
// (one statement, its own transaction) each; at(seq) is called with each job's start
// time before its insert. It returns the insert latencies.
func insertAll(ctx context.Context, client *river.Client[pgx.Tx], o options, at func(seq int64, t time.Time)) ([]time.Duration, error) {
	var seq atomic.Int64
	lat := make([][]time.Duration, o.callers)
	errs := make([]error, o.callers)
	var wg sync.WaitGroup
	for c := range o.callers {
		wg.Go(func() {
			for {
				n := seq.Add(1)
				if n > int64(o.jobs) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if at != nil {
					at(n, t0)
				}
				res, err := client.Insert(ctx, noopArgs{Seq: n}, uniqueOpts)
				if err == nil && res.UniqueSkippedAsDuplicate {
					err = fmt.Errorf("job %d was skipped as a duplicate", n)
				}
				if err != nil {
					errs[c] = err
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(lat...), ctx.Err()
}

func benchInsert(ctx context.Context, out io.Writer, pool *pgxpool.Pool, log *slog.Logger, o options) error {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: o.schema, Logger: log})
	if err != nil {
		return err
	}
	t0 := time.Now()
	lat, err := insertAll(ctx, client, o, nil)
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	fmt.Fprintf(out, "river insert: %d unique jobs, %d callers, %s; latency %s\n", o.jobs, o.callers, elapsed.Round(time.Millisecond), summary(lat))
	fmt.Fprintf(out, "river insert: %.0f jobs/s, p99 %s ms\n", float64(o.jobs)/elapsed.Seconds(), msf(pct(lat, 99)))
	return nil
}

func benchE2E(ctx context.Context, out io.Writer, pool *pgxpool.Pool, log *slog.Logger, o options) error {
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: o.schema, Logger: log,
		FetchCooldown: o.fetchCooldown, Workers: workers,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.workers}}})
	if err != nil {
		return err
	}
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: o.jobs + 1000,
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed}})
	defer cancel()
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer done()
		_ = client.Stop(stopCtx)
	}()

	// The inserts' start times by seq (1-based); each slot is written once, before its
	// job exists, and read after its completion event.
	starts := make([]time.Time, o.jobs+1)
	t0 := time.Now()
	insertErr := make(chan error, 1)
	go func() {
		_, err := insertAll(ctx, client, o, func(seq int64, t time.Time) { starts[seq] = t })
		insertErr <- err
	}()
	var e2e []time.Duration
	var last time.Time
	timeout := time.NewTimer(time.Duration(o.jobs)*time.Millisecond + time.Minute)
	defer timeout.Stop()
	for done := 0; done < o.jobs; {
		select {
		case err := <-insertErr:
			if err != nil {
				return err
			}
			insertErr = nil
		case <-timeout.C:
			return fmt.Errorf("only %d of %d jobs completed in time", done, o.jobs)
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted {
				return fmt.Errorf("job %d: %s", ev.Job.ID, ev.Kind)
			}
			last = time.Now()
			var a noopArgs
			if err := json.Unmarshal(ev.Job.EncodedArgs, &a); err != nil || a.Seq < 1 || a.Seq > int64(o.jobs) {
				return fmt.Errorf("job %d: unexpected args %s", ev.Job.ID, ev.Job.EncodedArgs)
			}
			e2e = append(e2e, last.Sub(starts[a.Seq]))
			done++
		}
	}
	elapsed := last.Sub(t0)
	fmt.Fprintf(out, "river e2e: %d jobs, %d callers, MaxWorkers %d, %s; insert→completed %s\n", o.jobs, o.callers, o.workers,
		elapsed.Round(time.Millisecond), summary(e2e))
	fmt.Fprintf(out, "river e2e: %.0f jobs/s, insert→completed p99 %s ms\n", float64(o.jobs)/elapsed.Seconds(), msf(pct(e2e, 99)))
	return nil
}

// pct returns the p-th percentile (nearest rank) of d, sorting it.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(p/100*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func msf(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func summary(d []time.Duration) string {
	return fmt.Sprintf("n=%d p50=%sms p95=%sms p99=%sms max=%sms", len(d), msf(pct(d, 50)), msf(pct(d, 95)), msf(pct(d, 99)), msf(pct(d, 100)))
}
