package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// sqlNotifyRunChanges (apply.sql) sends the payloads on a channel.
var sqlNotifyRunChanges = sqlQueries.Get("NotifyRunChanges")

// RunChangedChannel is the LISTEN channel the hub_runs projection notifies, in the
// transaction that applies a batch, with the ids of the runs the batch touched
// (comma-separated). NOTIFY is delivered at commit: a listener that reads a run after a
// notification sees at least the change that caused it.
const RunChangedChannel = "atlas_run_changed"

// maxNotifyPayload keeps a notification's payload under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

// notifyRunChanges notifies RunChangedChannel, inside tx, of every run that events
// touch: one statement, the ids packed into as few notifications as fit.
func notifyRunChanges(ctx context.Context, tx pgx.Tx, events []eventstore.Envelope) error {
	seen := map[uuid.UUID]bool{}
	var payloads []string
	var b strings.Builder
	for _, e := range events {
		if e.StreamType != operations.StreamType {
			continue
		}
		id := e.StreamIDUUID()
		if seen[id] {
			continue
		}
		seen[id] = true
		if b.Len() > 0 && b.Len()+1+36 > maxNotifyPayload {
			payloads = append(payloads, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id.String())
	}
	if b.Len() > 0 {
		payloads = append(payloads, b.String())
	}
	if len(payloads) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, sqlNotifyRunChanges, RunChangedChannel, payloads); err != nil {
		return fmt.Errorf("hub_runs: notify: %w", err)
	}
	return nil
}

// RunChanges listens to RunChangedChannel on one connection of its own (outside the
// pool, so it never takes a slot from requests): one listener per process, whatever
// the number of live viewers.
type RunChanges struct {
	cfg   *pgx.ConnConfig
	log   *slog.Logger
	retry time.Duration
}

// NewRunChanges returns a listener connecting with pool's connection settings.
func NewRunChanges(pool *pgxpool.Pool, log *slog.Logger) *RunChanges {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RunChanges{cfg: pool.Config().ConnConfig.Copy(), log: log, retry: time.Second}
}

// Listen calls changed with the ids of the runs whose hub row changed, until ctx ends.
// It calls changed(nil) each time it has (re)connected: notifications sent while it
// was not listening are lost, so whoever watches runs must reload them all. A lost
// connection is retried with a growing delay (up to 30 s). Calls of changed are made
// one at a time, from Listen's goroutine: changed must not block.
func (l *RunChanges) Listen(ctx context.Context, changed func(ids []uuid.UUID)) error {
	delay := l.retry
	for ctx.Err() == nil {
		start := time.Now()
		err := l.listenOnce(ctx, changed)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			delay = l.retry // it had been working: retry soon
		}
		l.log.Warn("run change listener reconnecting", "error", failure.Sanitize(err.Error()), "in", delay.String())
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
	return nil
}

func (l *RunChanges) listenOnce(ctx context.Context, changed func(ids []uuid.UUID)) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return fmt.Errorf("projections: run change listener: connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	// LISTEN takes no parameter: the channel is the Go constant, so this stays in Go.
	if _, err := conn.Exec(ctx, "LISTEN "+RunChangedChannel); err != nil {
		return fmt.Errorf("projections: run change listener: listen: %w", err)
	}
	changed(nil)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("projections: run change listener: %w", err)
		}
		if ids := parseRunIDs(n.Payload); len(ids) > 0 {
			changed(ids)
		}
	}
}

// parseRunIDs reads a notification's comma-separated run ids, skipping anything else.
func parseRunIDs(payload string) []uuid.UUID {
	parts := strings.Split(payload, ",")
	ids := make([]uuid.UUID, 0, len(parts))
	for _, p := range parts {
		if id, err := uuid.Parse(p); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}
