package operations

import (
	"slices"
	"sync"
)

// drainQueue is the queue of the gate's group commit and of the batched run ends: items
// wait in it, and up to a bound of drainers (goroutines started on demand) each take
// everything waiting, at most maxBatch at a time, and hand it to write, until the queue
// is empty. Nothing lingers: a drainer takes what is already queued, and an item alone
// is a batch of one.
type drainQueue[T any] struct {
	mu       sync.Mutex
	pending  []T
	drainers int
}

// push queues items (together: a drainer that starts now takes them in one batch) and
// starts a drainer when fewer than drainers run.
func (q *drainQueue[T]) push(drainers, maxBatch int, write func([]T), items ...T) {
	q.mu.Lock()
	q.pending = append(q.pending, items...)
	start := q.drainers < drainers
	if start {
		q.drainers++
	}
	q.mu.Unlock()
	if start {
		go q.drain(maxBatch, write)
	}
}

// drain writes batches until the queue is empty.
func (q *drainQueue[T]) drain(maxBatch int, write func([]T)) {
	for {
		q.mu.Lock()
		n := min(len(q.pending), maxBatch)
		if n == 0 {
			q.drainers--
			q.mu.Unlock()
			return
		}
		batch := slices.Clone(q.pending[:n])
		rest := copy(q.pending, q.pending[n:])
		clear(q.pending[rest:])
		q.pending = q.pending[:rest]
		q.mu.Unlock()
		write(batch)
	}
}
