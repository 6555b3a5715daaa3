package projections

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/tenantatlas/ops/eventstore"
)

// The log's tail, read once for every projection. A runner leads several projections
// (eight in `serve`), each from its own checkpoint, and each used to read its next
// batch itself: on every seal notification eight ReadAll queries over the same new
// events, each sealing and reading again when it found fewer than it asked for. The
// tail keeps the events sealed most recently (at most tailMax), read once: a
// projection whose checkpoint falls inside it gets its batch from memory, one at its
// end waits for the single read of what follows (whoever asks first reads, the others
// wait for that read), and one behind it (a projection catching up, a rebuild's
// catch-up) reads the log as before. The events are shared: Apply only reads them.

// tailMax bounds the events the tail holds.
const tailMax = 5000

// tail is the contiguous run of sealed events after position start, in global order.
type tail struct {
	store *eventstore.Store
	// held bounds the events held (0: tailMax; tests set a small one).
	held int

	mu     sync.Mutex
	set    bool                  // start has been set (by the first read)
	start  int64                 // the position just before events[0]
	events []eventstore.Envelope // every sealed event after start, up to the last read
	// reading is closed when the read in flight ends; nil when none is.
	reading chan struct{}
	// reads counts the log reads the tail made, served the batches it answered from
	// memory (tests, metrics).
	reads, served int64
}

// end is the position of the last event held (start when none is). mu held.
func (t *tail) end() int64 {
	if len(t.events) == 0 {
		return t.start
	}
	return t.events[len(t.events)-1].Position
}

// readAll is ReadAll(after, limit) through the tail.
func (t *tail) readAll(ctx context.Context, after int64, limit int) ([]eventstore.Envelope, error) {
	waited := false
	for {
		t.mu.Lock()
		if !t.set || (after > t.end() && t.reading == nil) {
			// The first read, or this projection is past what is held (the others read
			// the log, or a rebuild's swap moved its checkpoint): start over there, and
			// read (a read waited for before ended short of here).
			t.set, t.start, t.events = true, after, nil
			waited = false
		}
		switch end := t.end(); {
		case after < t.start:
			t.mu.Unlock()
			return t.store.ReadAll(ctx, after, limit) // behind the tail
		case after < end:
			i := sort.Search(len(t.events), func(i int) bool { return t.events[i].Position > after })
			out := slices.Clip(t.events[i:min(i+limit, len(t.events))])
			t.served++
			t.mu.Unlock()
			return out, nil
		case waited && after == end:
			t.mu.Unlock()
			return nil, nil // the read waited for brought nothing past it
		case t.reading != nil:
			ch := t.reading
			t.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			waited = true
			continue
		}
		// after == end, nothing in flight: read what follows, for everyone.
		ch := make(chan struct{})
		t.reading = ch
		from := t.end()
		t.mu.Unlock()
		envs, err := t.store.ReadAll(ctx, from, max(limit, 1000))
		t.mu.Lock()
		t.reads++
		if err == nil {
			t.events = append(t.events, envs...)
			if drop := len(t.events) - cmp.Or(t.held, tailMax); drop > 0 {
				// Resliced, not copied: the next append that outgrows the array moves only
				// the events held (and frees the dropped ones). A copy on every read was 7%
				// of the process's CPU under bench e2e.
				t.start = t.events[drop-1].Position
				t.events = t.events[drop:]
			}
		}
		t.reading = nil
		close(ch)
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
		waited = true
	}
}

// stats returns the log reads the tail made and the batches it served from memory.
func (t *tail) stats() (reads, served int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reads, t.served
}
