package projections

import (
	"context"

	"github.com/tenantatlas/ops/eventstore"
)

// WithBulkSizes returns o with a bulk rebuild reading pages of page events, COPYing
// copyRows rows at a time, holding at most lateMax late events and a final row for hold
// events (0 keeps a default, a negative hold holds none): small sizes take a test's
// small log through every path of the load.
func WithBulkSizes(o Options, page, copyRows, lateMax, hold int) Options {
	o.bulk = bulkSizes{page: page, copyRows: copyRows, lateMax: lateMax, hold: hold}
	return o
}

// TailStats reports how many times r's tail read the log and how many batches it
// served from memory (tests).
func TailStats(r *Runner) (reads, served int64) { return r.tail.stats() }

// TailRead is ReadAll(after, limit) through r's tail (tests).
func TailRead(ctx context.Context, r *Runner, after int64, limit int) ([]eventstore.Envelope, error) {
	return r.tail.readAll(ctx, after, limit)
}

// HoldInTail bounds the events r's tail holds to n (tests: a small log through the drop).
func HoldInTail(r *Runner, n int) { r.tail.held = n }
