package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
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
	// Concurrency is how many runs execute at once (default 4).
	Concurrency int
	// PollInterval is how often an idle subscriber looks for jobs (default 100ms).
	PollInterval time.Duration
}

// RunWorkers consumes dispatch jobs until ctx ends. A watermill router delivers each
// job once across all worker processes (one consumer group), retries infrastructure
// errors with exponential backoff and jitter, and moves a job that still fails to the
// poison topic. Claiming a run is the job: once RunStarted is written the message is
// acknowledged and the run executes on a bounded pool, watched by its heartbeat.
func (s *Service) RunWorkers(ctx context.Context, opts WorkerOptions) error {
	if opts.WorkerID == "" {
		opts.WorkerID = "worker-" + uuid.NewString()[:8]
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	wmLog := watermill.NewSlogLogger(s.log)
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(s.pool), wsql.SubscriberConfig{
		ConsumerGroup:  workerGroup,
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: 1},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		PollInterval:   opts.PollInterval,
		ResendInterval: 250 * time.Millisecond,
	}, wmLog)
	if err != nil {
		return fmt.Errorf("operations: subscriber: %w", err)
	}
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(s.pool), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, wmLog)
	if err != nil {
		return fmt.Errorf("operations: publisher: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wmLog)
	if err != nil {
		return fmt.Errorf("operations: router: %w", err)
	}
	poison, err := middleware.PoisonQueue(pub, PoisonTopic)
	if err != nil {
		return fmt.Errorf("operations: poison queue: %w", err)
	}
	router.AddMiddleware(poison, middleware.Retry{
		MaxRetries: 4, InitialInterval: 100 * time.Millisecond, MaxInterval: 2 * time.Second,
		Multiplier: 2, RandomizationFactor: 0.5, Logger: wmLog,
	}.Middleware)

	pool := newRunPool(opts.Concurrency)
	var running sync.WaitGroup
	router.AddConsumerHandler("ops_dispatch", DispatchTopic, sub, func(msg *message.Message) error {
		var job Job
		if err := json.Unmarshal(msg.Payload, &job); err != nil || job.RunID == uuid.Nil {
			// Not a job at all: nothing to run, nothing to create; do not retry.
			s.log.Warn("dispatch message rejected", "message", msg.UUID, "reason", ReasonRunContextMissing)
			return nil
		}
		// The handler only claims, and never waits for a free run slot: the subscriber
		// holds a transaction open until the message is acknowledged (a nack is resent
		// in the same transaction), and an open transaction holds back
		// pg_snapshot_xmin, which the event store's sealer and every outbox reader wait
		// on. A claimed run heart-beats while it waits for a slot in this process.
		run, err := s.Claim(ctx, job, opts.WorkerID)
		if err != nil {
			return err // infrastructure error: retried, then poisoned
		}
		if run == nil {
			return nil // rejected (missing, ended or already claimed): acknowledged
		}
		running.Go(func() { s.execute(context.WithoutCancel(ctx), run, opts.WorkerID, pool.acquire) })
		return nil
	})
	err = router.Run(ctx)
	running.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("operations: workers: %w", err)
	}
	return nil
}

// runPool bounds the runs executing at once.
type runPool struct {
	slots chan struct{}
}

func newRunPool(n int) *runPool { return &runPool{slots: make(chan struct{}, n)} }

// acquire waits for a free slot and returns its release.
func (p *runPool) acquire() func() {
	p.slots <- struct{}{}
	return func() { <-p.slots }
}
