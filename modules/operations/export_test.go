package operations

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// GroupStats reports how many starts s decided in group transactions and how many of
// its group transactions failed (tests).
func GroupStats(s *Service) (grouped, failed int64) {
	return s.group.grouped.Load(), s.group.failed.Load()
}

// OutboxDispatcher is the default dispatcher (tests that wrap it).
func OutboxDispatcher() Dispatcher { return outboxDispatcher{} }

// HoldKeys takes, in tx, the advisory locks the gate takes for a start of identity or
// scope keys (tests: a start or an end that is let in meanwhile waits for tx).
func HoldKeys(ctx context.Context, tx pgx.Tx, keys ...string) error {
	_, err := tx.Exec(ctx, lockKeysSQL, keys)
	return err
}
