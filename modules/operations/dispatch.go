package operations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// The watermill topics of run dispatch.
const (
	// DispatchTopic carries one Job per accepted run.
	DispatchTopic = "ops_dispatch"
	// PoisonTopic receives jobs that kept failing after the retries.
	PoisonTopic = "ops_dispatch_poison"
	// workerGroup is the consumer group every worker process shares, so each job is
	// delivered to one of them.
	workerGroup = "workers"
)

// outboxDispatcher queues the job into the watermill-sql outbox on the start
// transaction's batch: RunQueued and its job commit, or roll back, together.
type outboxDispatcher struct{}

func (outboxDispatcher) QueueDispatch(ctx context.Context, b *eventstore.Batch, job Job) error {
	payload, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("operations: encode job: %w", err)
	}
	msg := message.NewMessage(job.RunID.String(), payload)
	msg.Metadata.Set("run_type", job.Type)
	msg.SetContext(ctx)
	return b.Publish(DispatchTopic, msg)
}

// WorkerOptions configure RunWorkers.
type WorkerOptions struct {
	// WorkerID names this process in RunStarted (default: a random id).
	WorkerID string
	// Concurrency is how many runs execute at once (default 4); a worker never holds
	// more claimed runs than that.
	Concurrency int
	// PollInterval is how often an idle worker looks for queued runs and an idle
	// dispatch subscriber for jobs (default 100ms).
	PollInterval time.Duration
	// ShutdownTimeout is how long running handlers may go on once ctx ends (default
	// 30s); then their contexts are cancelled and their runs left to the sweeper.
	ShutdownTimeout time.Duration
}

// shutdownGrace is how long RunWorkers still waits for handlers whose context it has
// cancelled at the shutdown deadline before it returns without them.
const shutdownGrace = 5 * time.Second

// claimTimeout bounds one claim transaction.
const claimTimeout = 30 * time.Second

// RunWorkers executes queued runs until ctx ends, never holding more than Concurrency
// of them: it claims runs only for free slots, straight from ops_runs (oldest queued
// first, FOR UPDATE SKIP LOCKED, so several processes never claim the same run), in one
// short transaction that marks them running, appends RunStarted and loads them. A run
// waiting for a slot anywhere stays queued, and another process may take it. A claim
// that fails (an infrastructure error) is retried with exponential backoff and jitter.
//
// The dispatch job on the watermill-sql outbox is the wake-up: a watermill router (one
// consumer group, so each job reaches one process) checks that the job names a run
// (a job without one is dropped: a worker never creates a run), retries infrastructure
// errors with backoff, moves a job that still fails to the poison topic, and wakes the
// claim loop. The handler never waits for a slot: the subscriber holds a transaction
// open until the message is acknowledged, and an open transaction holds back
// pg_snapshot_xmin, which the event store's sealer and every outbox reader wait on.
//
// When ctx ends the worker stops claiming at once; running handlers get
// ShutdownTimeout to finish, then their contexts are cancelled. A run whose handler
// was cancelled that way is left running without a heartbeat: the sweeper ends it
// (worker_lost) and the same start is accepted again.
func (s *Service) RunWorkers(ctx context.Context, opts WorkerOptions) error {
	if opts.WorkerID == "" {
		opts.WorkerID = "worker-" + uuid.NewString()[:8]
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	wake := make(chan struct{}, 1)
	router, err := s.dispatchRouter(ctx, opts, wake)
	if err != nil {
		return err
	}
	routerDone := make(chan error, 1)
	go func() {
		err := router.Run(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("dispatch router stopped; runs are still claimed every poll interval", "error", Sanitize(err.Error()))
		}
		routerDone <- err
	}()

	// Handlers run under their own context: ctx ending stops the claiming, not the
	// runs; runCtx is cancelled only at the shutdown deadline.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	pool := newRunPool(opts.Concurrency)
	var running sync.WaitGroup
	s.claimLoop(ctx, opts, pool, wake, func(run *Run) {
		running.Go(func() {
			defer pool.release(1)
			s.execute(runCtx, run, opts.WorkerID)
		})
	})

	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	deadline := time.NewTimer(opts.ShutdownTimeout)
	defer deadline.Stop()
	select {
	case <-done:
	case <-deadline.C:
		s.log.Warn("shutdown deadline passed: cancelling the running handlers; the sweeper ends their runs",
			"worker", opts.WorkerID, "running", pool.busyCount())
		cancelRuns()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
			s.log.Error("handlers ignored their cancelled context; stopping without them", "worker", opts.WorkerID, "running", pool.busyCount())
		}
	}
	if err := <-routerDone; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("operations: workers: %w", err)
	}
	return nil
}

// shutdownQuiet is watermill's logger for the dispatch subscriber and router: an error
// that is the cancellation of their context (the workers stopping, a poll cut off in its
// transaction: "could not commit tx for querying message … context canceled" at every
// shutdown) is logged at debug, not as an error for an operator to chase. Every other
// error is logged as before.
type shutdownQuiet struct{ watermill.LoggerAdapter }

func (l shutdownQuiet) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) {
		l.LoggerAdapter.Debug(msg, fields.Add(watermill.LogFields{"error": err.Error()}))
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l shutdownQuiet) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return shutdownQuiet{l.LoggerAdapter.With(fields)}
}

// dispatchBatch is how many wake-ups the dispatch subscriber takes in one transaction
// (watermill acknowledges them in order and moves the offset past the last one
// acknowledged; a job nacked is delivered again with those after it). One a transaction
// cost six statements a run, and at 1,000 starts/s the subscriber fell behind; 16 took
// the end to end from 943 to 1,000 runs/s (medians of 4 interleaved runs). The handler
// only checks the run's status, so the transaction, which holds the seal horizon while
// it lasts, stays a few milliseconds (start → sealed p99 at 500 starts/s: 27 ms).
const dispatchBatch = 16

// dispatchRouter is the watermill router that consumes dispatch jobs as wake-ups.
func (s *Service) dispatchRouter(ctx context.Context, opts WorkerOptions, wake chan<- struct{}) (*message.Router, error) {
	wmLog := shutdownQuiet{watermill.NewSlogLogger(s.log)}
	sub, err := wsql.NewSubscriber(asyncCommits{wsql.BeginnerFromPgx(s.pool)}, wsql.SubscriberConfig{
		ConsumerGroup:  workerGroup,
		SchemaAdapter:  dispatchSchema{wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: dispatchBatch}},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		PollInterval:   opts.PollInterval,
		ResendInterval: 250 * time.Millisecond,
	}, wmLog)
	if err != nil {
		return nil, fmt.Errorf("operations: subscriber: %w", err)
	}
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(s.pool), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, wmLog)
	if err != nil {
		return nil, fmt.Errorf("operations: publisher: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wmLog)
	if err != nil {
		return nil, fmt.Errorf("operations: router: %w", err)
	}
	poison, err := middleware.PoisonQueue(pub, PoisonTopic)
	if err != nil {
		return nil, fmt.Errorf("operations: poison queue: %w", err)
	}
	router.AddMiddleware(poison, middleware.Retry{
		MaxRetries: 4, InitialInterval: 100 * time.Millisecond, MaxInterval: 2 * time.Second,
		Multiplier: 2, RandomizationFactor: 0.5, Logger: wmLog,
	}.Middleware)
	router.AddConsumerHandler("ops_dispatch", DispatchTopic, sub, func(msg *message.Message) error {
		var job Job
		if err := json.Unmarshal(msg.Payload, &job); err != nil || job.RunID == uuid.Nil {
			// Not a job at all: nothing to run, nothing to create; do not retry.
			s.log.Warn("dispatch message rejected", "message", msg.UUID, "reason", ReasonRunContextMissing)
			return nil
		}
		var status string
		err := s.pool.QueryRow(ctx, `SELECT status FROM ops_runs WHERE run_id = $1`, job.RunID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			s.log.Warn("dispatch job rejected", "run", job.RunID, "reason", ReasonRunContextMissing)
			return nil
		case err != nil:
			return fmt.Errorf("operations: dispatch job %s: %w", job.RunID, err) // retried, then poisoned
		case status == "queued":
			select {
			case wake <- struct{}{}:
			default:
			}
		}
		return nil
	})
	return router, nil
}

// dispatchSchema is watermill-sql's PostgreSQL schema with a select that starts at the
// consumer group's offset: (transaction_id, "offset") > (last processed, acked), a row
// comparison the primary key's index seeks to. The default select says the same with an
// OR, which the planner can only serve by collecting every message after the offset
// and sorting them: cheap while the workers keep up, but with a backlog (starts coming
// faster than the subscriber takes their wake-ups) each message cost a sort of the whole
// backlog, 10.8 ms a message at 500 starts/s, half a core.
type dispatchSchema struct{ wsql.DefaultPostgreSQLSchema }

// SelectQuery is the default select with the offset as a row comparison; the same
// columns, arguments (the offsets adapter's) and order.
func (s dispatchSchema) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	next, err := params.OffsetsAdapter.NextOffsetQuery(wsql.NextOffsetQueryParams{Topic: params.Topic, ConsumerGroup: params.ConsumerGroup})
	if err != nil {
		return wsql.Query{}, err
	}
	batch := s.SubscribeBatchSize
	if batch <= 0 {
		batch = 100 // watermill's default
	}
	return wsql.Query{Query: `WITH last_processed AS (` + next.Query + `)
		SELECT "offset", transaction_id, uuid, payload, metadata FROM ` + s.MessagesTable(params.Topic) + `
		WHERE (transaction_id, "offset") > ((SELECT last_processed_transaction_id FROM last_processed), (SELECT offset_acked FROM last_processed))
			AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY transaction_id, "offset"
		LIMIT ` + fmt.Sprint(batch), Args: next.Args}, nil
}

// asyncCommits begins the dispatch subscriber's transactions with synchronous_commit
// off: such a transaction only moves the consumer group's offset past a wake-up (the
// job is a wake-up; the run is in ops_runs), so it need not wait for its WAL flush, a
// second fsync a run beside the start's own. Should a crash lose the last offsets,
// their jobs are delivered again and wake the claim loop again, which claims nothing
// twice (FOR UPDATE SKIP LOCKED on queued rows). WAL is flushed in order, so no later
// synchronous commit survives a crash that lost one of these.
type asyncCommits struct{ wsql.Beginner }

func (b asyncCommits) BeginTx(ctx context.Context, opts *sql.TxOptions) (wsql.Tx, error) {
	tx, err := b.Beginner.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// claimLoop claims queued runs for the free slots of pool and hands each to start,
// until ctx ends. It looks again when a slot frees up, when a job wakes it and every
// PollInterval; a failed claim is retried with exponential backoff and jitter.
func (s *Service) claimLoop(ctx context.Context, opts WorkerOptions, pool *runPool, wake <-chan struct{}, start func(*Run)) {
	poll := time.NewTicker(opts.PollInterval)
	defer poll.Stop()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if n := pool.reserve(); n > 0 {
			// The claim is not cut short by ctx: a commit interrupted by a cancellation
			// may still have claimed runs nobody would then execute.
			claimCtx, cancelClaim := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
			runs, err := s.claimQueued(claimCtx, n, opts.WorkerID)
			cancelClaim()
			pool.unreserve(n - len(runs))
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
				wait := backoff/2 + rand.N(backoff/2+1)
				s.log.Warn("claim failed; retrying", "worker", opts.WorkerID, "in", wait.String(), "error", Sanitize(err.Error()))
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				continue
			}
			backoff = 0
			for _, run := range runs {
				start(run)
			}
			if len(runs) == n {
				continue // maybe more queued; a full pool waits below for a slot
			}
		}
		select {
		case <-ctx.Done():
		case <-pool.freed:
		case <-wake:
		case <-poll.C:
		}
	}
}

// runPool counts the run slots of one worker process.
type runPool struct {
	mu    sync.Mutex
	size  int
	busy  int
	freed chan struct{} // signalled when a slot frees up
}

func newRunPool(n int) *runPool { return &runPool{size: n, freed: make(chan struct{}, 1)} }

// reserve takes every free slot and returns how many it took.
func (p *runPool) reserve() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.size - p.busy
	p.busy = p.size
	return n
}

// release gives n slots back.
func (p *runPool) release(n int) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	p.busy -= n
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// unreserve gives back n reserved slots that were not used, without waking the loop.
func (p *runPool) unreserve(n int) {
	p.mu.Lock()
	p.busy -= n
	p.mu.Unlock()
}

// busyCount is the number of slots taken.
func (p *runPool) busyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy
}
