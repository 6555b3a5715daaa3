package eventstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// outboxSweepLockKey is the advisory lock that makes one outbox sweeper at a time.
const outboxSweepLockKey = 0x61746c6173_02 // "atlas" 2

// DefaultOutboxMaxAge is how long an outbox message is kept at most, consumed or not.
const DefaultOutboxMaxAge = 7 * 24 * time.Hour

// outboxSweepBatch bounds the rows one sweep transaction deletes: a transaction that
// writes holds a transaction id, and so the seal horizon, while it runs.
const outboxSweepBatch = 2000

// SweepOutbox deletes watermill-sql messages nobody needs any more, in every topic
// table of the database (watermill_<topic>, beside watermill_offsets_<topic>):
//
//   - a message every consumer group of its topic has passed (its (transaction_id,
//     offset) at or below the group's acknowledged position) is deleted at once;
//   - a message older than maxAge is deleted whatever the consumers: a topic nobody
//     consumes (a poison queue) or a consumer group that stopped would otherwise keep
//     every row. A run's dispatch job that old is long void (the sweeper has ended a
//     run queued that long), and a new consumer group starts from what is left.
//
// maxAge <= 0 means DefaultOutboxMaxAge. It returns how many messages it deleted. One
// process sweeps at a time (an advisory lock); a concurrent call returns 0 at once.
func (s *Store) SweepOutbox(ctx context.Context, maxAge time.Duration) (int64, error) {
	if maxAge <= 0 {
		maxAge = DefaultOutboxMaxAge
	}
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_class c
		WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
			AND c.relname LIKE 'watermill\_%' AND c.relname NOT LIKE 'watermill\_offsets\_%' ORDER BY 1`)
	if err != nil {
		return 0, fmt.Errorf("eventstore: outbox sweep: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("eventstore: outbox sweep: %w", err)
	}
	var total int64
	for _, table := range tables {
		topic := strings.TrimPrefix(table, "watermill_")
		for {
			n, locked, err := s.sweepTopicOnce(ctx, topic, maxAge)
			total += n
			if err != nil {
				return total, fmt.Errorf("eventstore: outbox sweep of %s: %w", topic, err)
			}
			if !locked {
				return total, nil // another process sweeps
			}
			if n < outboxSweepBatch {
				break
			}
		}
	}
	return total, nil
}

// sweepTopicOnce deletes at most one batch of topic's messages in a transaction of
// its own. locked is false when another sweeper holds the lock.
func (s *Store) sweepTopicOnce(ctx context.Context, topic string, maxAge time.Duration) (deleted int64, locked bool, err error) {
	messages := pgx.Identifier{"watermill_" + topic}.Sanitize()
	offsets := pgx.Identifier{"watermill_offsets_" + topic}.Sanitize()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(outboxSweepLockKey)).Scan(&locked); err != nil || !locked {
			return err
		}
		// First what every consumer group has passed: the messages at or below the
		// smallest acknowledged (transaction_id, offset), a range of the primary key.
		// None when the topic has no group (or no offsets table).
		var hasOffsets bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, offsets).Scan(&hasOffsets); err != nil {
			return err
		}
		if hasOffsets {
			tag, err := tx.Exec(ctx, `DELETE FROM `+messages+` d USING (
					SELECT m.transaction_id, m."offset" FROM `+messages+` m
					WHERE (m.transaction_id, m."offset") <= (SELECT o.last_processed_transaction_id, COALESCE(o.offset_acked, 0)
						FROM `+offsets+` o ORDER BY o.last_processed_transaction_id, COALESCE(o.offset_acked, 0) LIMIT 1)
					ORDER BY m.transaction_id, m."offset" LIMIT $1) AS gone
				WHERE d.transaction_id = gone.transaction_id AND d."offset" = gone."offset"`, outboxSweepBatch)
			if err != nil {
				return err
			}
			deleted = tag.RowsAffected()
		}
		if deleted >= outboxSweepBatch {
			return nil
		}
		// Then what is older than maxAge, consumed or not.
		tag, err := tx.Exec(ctx, `DELETE FROM `+messages+` d USING (
				SELECT m.transaction_id, m."offset" FROM `+messages+` m
				WHERE m.created_at < LOCALTIMESTAMP - $1::interval LIMIT $2) AS gone
			WHERE d.transaction_id = gone.transaction_id AND d."offset" = gone."offset"`, maxAge, outboxSweepBatch-deleted)
		if err != nil {
			return err
		}
		deleted += tag.RowsAffected()
		return nil
	})
	return deleted, locked, err
}

// RunOutboxSweeper sweeps the outbox (SweepOutbox) every interval until ctx ends.
// Every `atlas serve` and `atlas worker` runs one; the advisory lock keeps them from
// sweeping at the same time.
func (s *Store) RunOutboxSweeper(ctx context.Context, interval, maxAge time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.SweepOutbox(ctx, maxAge); err != nil && ctx.Err() == nil {
			s.log.Warn("outbox sweep failed", "error", err.Error())
		} else if n > 0 {
			s.log.Debug("outbox swept", "messages", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
