package projections

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

// The statements of runner.sql that the runner itself runs.
var (
	sqlCheckpoint        = sqlQueries.Get("Checkpoint")
	sqlAdvanceCheckpoint = sqlQueries.Get("AdvanceCheckpoint")
	sqlTryLeaderLock     = sqlQueries.Get("TryLeaderLock")
	sqlLeaderUnlock      = sqlQueries.Get("LeaderUnlock")
	sqlUnlistenAll       = sqlQueries.Get("UnlistenAll")
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the projections' migration set (bookkeeping and read-model tables).
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("projections", migrationFiles)
}

// Projection builds one read model from events.
type Projection interface {
	// Name identifies the projection ("hub_runs").
	Name() string
	// Version is bumped whenever the read model's schema or meaning changes.
	Version() int
	// Tables are the read model's tables, each served through a view.
	Tables() []Table
	// Apply applies a batch of events, in global order, inside tx, to the tables of target.
	Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error
}

// Table is one read-model table (versioned name) and the stable view readers query.
type Table struct {
	// Name is the table, e.g. "rm_runs_v1".
	Name string
	// View is what readers query, e.g. "rm_runs".
	View string
}

// Target says which copy of a projection's tables to write: the serving one, or the
// shadow copy a rebuild fills.
type Target struct{ suffix string }

// Live is the serving copy.
var Live = Target{}

// shadow is the copy a rebuild fills before it is swapped in.
var shadow = Target{suffix: "_next"}

// Table returns the name of table in this target.
func (t Target) Table(name string) string { return name + t.suffix }

// Options configure a Runner.
type Options struct {
	// Logger receives the runner's logs.
	Logger *slog.Logger
	// BatchSize is how many events one transaction applies (default 500).
	BatchSize int
	// PollInterval bounds how long an idle runner waits without a notification (default 1s).
	PollInterval time.Duration
	// bulk overrides the sizes of a bulk rebuild where set (tests).
	bulk bulkSizes
}

// Runner advances projections.
type Runner struct {
	pool  *pgxpool.Pool
	store *eventstore.Store
	log   *slog.Logger
	opts  Options
	// lastBulk is the phases of the last bulk rebuild (LastBulkStats).
	lastBulk atomic.Pointer[BulkStats]
	// tail is the log's tail, read once for all the projections this runner advances.
	tail *tail
}

// NewRunner returns a Runner reading store and writing through pool.
func NewRunner(pool *pgxpool.Pool, store *eventstore.Store, opts Options) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	return &Runner{pool: pool, store: store, log: opts.Logger, opts: opts, tail: &tail{store: store}}
}

// Checkpoint returns the position a projection version has applied up to.
func (r *Runner) Checkpoint(ctx context.Context, p Projection) (int64, error) {
	var pos int64
	err := r.pool.QueryRow(ctx, sqlCheckpoint, p.Name(), p.Version()).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("projections: checkpoint of %s: %w", p.Name(), err)
	}
	return pos, nil
}

// Step applies at most one batch of new events to p and returns how many it applied.
// The read-model writes and the new checkpoint commit together, so a crash at any
// point leaves the projection exactly at its last committed checkpoint.
func (r *Runner) Step(ctx context.Context, p Projection) (int, error) {
	return r.step(ctx, p, r.opts.BatchSize)
}

// maxCatchUpBatch bounds the batches of a projection that is catching up.
const maxCatchUpBatch = 10000

func (r *Runner) step(ctx context.Context, p Projection, size int) (int, error) {
	from, err := r.Checkpoint(ctx, p)
	if err != nil {
		return 0, err
	}
	n, _, err := r.stepFrom(ctx, p, from, size)
	if errors.Is(err, errMoved) {
		return 0, nil
	}
	return n, err
}

// stepFrom is step from checkpoint from, known to the caller: it applies at most size
// events past from and returns how many and the new checkpoint; errMoved when another
// runner moved the checkpoint meanwhile.
func (r *Runner) stepFrom(ctx context.Context, p Projection, from int64, size int) (int, int64, error) {
	envs, err := r.tail.readAll(ctx, from, size)
	if err != nil {
		return 0, from, err
	}
	if len(envs) == 0 {
		return 0, from, nil
	}
	last := envs[len(envs)-1].Position
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		// The checkpoint row is locked first: if two runners ever raced, the second
		// would wait here and then find the checkpoint moved.
		tag, err := tx.Exec(ctx, sqlAdvanceCheckpoint, p.Name(), p.Version(), last, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errMoved
		}
		return p.Apply(ctx, tx, Live, envs)
	})
	if errors.Is(err, errMoved) {
		return 0, from, err
	}
	if err != nil {
		return 0, from, fmt.Errorf("projections: %s v%d at %d: %w", p.Name(), p.Version(), from, err)
	}
	appliedEvents.WithLabelValues(p.Name()).Add(float64(len(envs)))
	return len(envs), last, nil
}

// appliedEvents counts events applied per projection (its rate is the projection rate).
var appliedEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "atlas_projection_applied_events_total", Help: "Events applied by each projection.",
}, []string{"projection"})

// AppliedEvents is the counter of applied events, for registering with a registry.
func AppliedEvents() prometheus.Collector { return appliedEvents }

var errMoved = errors.New("checkpoint moved")

// CatchUp steps p until it has applied everything sealed so far. A projection that is
// far behind takes bigger batches (each full batch doubles the next, up to
// maxCatchUpBatch): a commit per 500 events made catching up on 400,000 events take 36 s
// instead of 4. A live tail stays at BatchSize, so each batch commits soon.
func (r *Runner) CatchUp(ctx context.Context, p Projection) (int, error) {
	from, err := r.Checkpoint(ctx, p)
	if err != nil {
		return 0, err
	}
	n, _, err := r.catchUpFrom(ctx, p, from)
	return n, err
}

// catchUpFrom is CatchUp from checkpoint from, known to the caller (the leader keeps
// its own): it returns the events applied and the new checkpoint, read again only when
// another runner moved it.
func (r *Runner) catchUpFrom(ctx context.Context, p Projection, from int64) (int, int64, error) {
	total, size := 0, r.opts.BatchSize
	for {
		n, pos, err := r.stepFrom(ctx, p, from, size)
		if errors.Is(err, errMoved) {
			pos, err = r.Checkpoint(ctx, p)
		}
		total += n
		from = pos
		if err != nil || n == 0 {
			return total, from, err
		}
		if n == size {
			size = min(size*2, max(maxCatchUpBatch, r.opts.BatchSize))
		}
	}
}

// Run advances the projections until ctx ends. For each projection it takes an
// advisory lock on a connection of its own; a process that does not get it stands by
// and tries again, so exactly one process advances a projection at a time and another
// takes over when that one dies (its session, and so its lock, ends with it). A
// projection whose version changed is rebuilt first (EnsureVersion).
func (r *Runner) Run(ctx context.Context, ps ...Projection) error {
	errc := make(chan error, len(ps))
	for _, p := range ps {
		go func() { errc <- r.runOne(ctx, p) }()
	}
	var first error
	for range ps {
		if err := <-errc; err != nil && first == nil && ctx.Err() == nil {
			first = err
		}
	}
	return first
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("projection:" + name))
	return int64(h.Sum64() & 0x7fffffffffffffff)
}

func (r *Runner) runOne(ctx context.Context, p Projection) error {
	for ctx.Err() == nil {
		if err := r.leadOne(ctx, p); err != nil && ctx.Err() == nil {
			r.log.Warn("projection runner restarting", "projection", p.Name(), "error", err.Error())
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.opts.PollInterval):
		}
	}
	return nil
}

// leadOne holds the projection's lock and tails the log until ctx ends or an error.
func (r *Runner) leadOne(ctx context.Context, p Projection) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, sqlTryLeaderLock, lockKey(p.Name())).Scan(&got); err != nil {
		return err
	}
	if !got {
		return nil // someone else leads; stand by
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), sqlLeaderUnlock, lockKey(p.Name()))
	}()
	// The leader builds a new version first; readers keep the old one until the swap.
	if err := r.EnsureVersion(ctx, p); err != nil {
		return err
	}
	// LISTEN takes no parameter: the channel is the event store's constant (stays in Go).
	if _, err := conn.Exec(ctx, "LISTEN "+eventstore.SealNotifyChannel); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), sqlUnlistenAll) }()
	r.log.Info("projection leading", "projection", p.Name(), "version", p.Version())
	from, err := r.Checkpoint(ctx, p)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		var n int
		n, from, err = r.catchUpFrom(ctx, p, from)
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		waitCtx, cancel := context.WithTimeout(ctx, r.opts.PollInterval)
		_, err = conn.Conn().WaitForNotification(waitCtx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return err
		}
	}
	return nil
}
