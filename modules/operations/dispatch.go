package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		PollInterval:   opts.PollInterval,
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
	router.AddConsumerHandler("ops_dispatch", DispatchTopic, sub, func(msg *message.Message) error {
		var job Job
		if err := json.Unmarshal(msg.Payload, &job); err != nil || job.RunID == uuid.Nil {
			// Not a job at all: nothing to run, nothing to create; do not retry.
			s.log.Warn("dispatch message rejected", "message", msg.UUID, "reason", ReasonRunContextMissing)
			return nil
		}
		release, err := pool.acquire(ctx)
		if err != nil {
			return err
		}
		run, err := s.Claim(ctx, job, opts.WorkerID)
		if err != nil {
			release()
			return err // infrastructure error: retried, then poisoned
		}
		if run == nil {
			release()
			return nil // rejected (missing, ended or already claimed): acknowledged
		}
		go func() {
			defer release()
			s.Execute(context.WithoutCancel(ctx), run, opts.WorkerID)
		}()
		return nil
	})
	err = router.Run(ctx)
	pool.wait()
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

func (p *runPool) acquire(ctx context.Context) (func(), error) {
	select {
	case p.slots <- struct{}{}:
		return func() { <-p.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// wait blocks until every running run has finished.
func (p *runPool) wait() {
	for range cap(p.slots) {
		p.slots <- struct{}{}
	}
}
