package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantatlas/ops/modules/failure"
)

// RunChangeSource tells which runs changed. projections.RunChanges (LISTEN on one
// connection of its own) is the one `atlas serve` runs.
type RunChangeSource interface {
	// Listen calls changed with the ids of changed runs until ctx ends, and with nil
	// whenever changes may have been missed (every run must then be reloaded).
	Listen(ctx context.Context, changed func(ids []uuid.UUID)) error
}

// Defaults of StreamConfig.
const (
	// DefaultMaxStreams caps the open live streams of one process.
	DefaultMaxStreams = 1000
	// DefaultMaxStreamsPerUser caps the open live streams of one user in one process.
	DefaultMaxStreamsPerUser = 8
	// DefaultStreamHeartbeat is how often an idle stream sends a comment line.
	DefaultStreamHeartbeat = 15 * time.Second
)

// StreamConfig configures the run viewer's live stream (/admin/operations/{run}/stream).
type StreamConfig struct {
	// Changes feeds the streams; nil: a stream sends the run's state when it opens and
	// then only heartbeats.
	Changes RunChangeSource
	// MaxOpen caps the open streams of this process (0: DefaultMaxStreams).
	MaxOpen int
	// MaxPerUser caps one user's open streams (0: DefaultMaxStreamsPerUser).
	MaxPerUser int
	// Heartbeat is how often an idle stream sends a comment line, which also finds a
	// gone client (0: DefaultStreamHeartbeat).
	Heartbeat time.Duration
}

// maxConcurrentLoads bounds the pool connections the hub's loads use at a time,
// however many runs change at once.
const maxConcurrentLoads = 2

// loadTimeout bounds one load of a run's state.
const loadTimeout = 10 * time.Second

var (
	errTooManyStreams = errors.New("too many open streams")
	errStreamsStopped = errors.New("streams stopped")
)

// streamState is one state of a run as the stream sends it (data is the JSON of a
// runState; nil data with end set: the run is gone, end the stream).
type streamState struct {
	data []byte
	end  bool
}

// streamHub fans run changes out to the open streams: one listener per process, one
// load of a run's state per change shared by every viewer of that run, and a
// non-blocking hand-off to each viewer that keeps only the newest state, so a slow
// viewer never holds up the others.
type streamHub struct {
	cfg   StreamConfig
	load  func(ctx context.Context, id uuid.UUID) (*streamState, error)
	log   *slog.Logger
	slots chan struct{} // load semaphore

	mu      sync.Mutex
	base    context.Context // loads run under it; ends when the listener stops
	open    int
	perUser map[uuid.UUID]int
	topics  map[uuid.UUID]*topic
	stopped bool

	openGauge prometheus.Gauge
	rejected  *prometheus.CounterVec
	loads     prometheus.Counter
}

// topic is one run's viewers and its last loaded state.
type topic struct {
	subs    map[*subscriber]struct{}
	last    *streamState
	loading bool // a load goroutine is running
	dirty   bool // the run changed again while loading
}

// subscriber is one open stream.
type subscriber struct {
	user, run uuid.UUID
	mu        sync.Mutex
	next      *streamState
	wake      chan struct{} // capacity 1: "next has something"
	done      chan struct{} // closed when the hub stops
}

// offer replaces the pending state with st and wakes the stream; it never blocks.
func (s *subscriber) offer(st *streamState) {
	s.mu.Lock()
	s.next = st
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns the pending state (nil if none) and clears it.
func (s *subscriber) take() *streamState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.next
	s.next = nil
	return st
}

func newStreamHub(cfg StreamConfig, load func(ctx context.Context, id uuid.UUID) (*streamState, error), log *slog.Logger) *streamHub {
	if cfg.MaxOpen <= 0 {
		cfg.MaxOpen = DefaultMaxStreams
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = DefaultMaxStreamsPerUser
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultStreamHeartbeat
	}
	return &streamHub{cfg: cfg, load: load, log: log, slots: make(chan struct{}, maxConcurrentLoads),
		base: context.Background(), perUser: map[uuid.UUID]int{}, topics: map[uuid.UUID]*topic{},
		openGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "atlas_run_streams_open", Help: "Open live streams of the run viewer.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atlas_run_streams_rejected_total", Help: "Live streams refused with 429, by the cap reached.",
		}, []string{"limit"}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atlas_run_stream_loads_total", Help: "Loads of a watched run's state (one per change, shared by its viewers).",
		}),
	}
}

// collectors are the hub's metrics.
func (h *streamHub) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.openGauge, h.rejected, h.loads}
}

// subscribe opens a stream of run for user, within the caps. The stream gets the run's
// last known state at once, or when its first load ends.
func (h *streamHub) subscribe(user, run uuid.UUID) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil, errStreamsStopped
	}
	if h.open >= h.cfg.MaxOpen {
		h.rejected.WithLabelValues("process").Inc()
		return nil, errTooManyStreams
	}
	if h.perUser[user] >= h.cfg.MaxPerUser {
		h.rejected.WithLabelValues("user").Inc()
		return nil, errTooManyStreams
	}
	h.open++
	h.perUser[user]++
	h.openGauge.Inc()
	sub := &subscriber{user: user, run: run, wake: make(chan struct{}, 1), done: make(chan struct{})}
	t := h.topics[run]
	if t == nil {
		t = &topic{subs: map[*subscriber]struct{}{}}
		h.topics[run] = t
	}
	t.subs[sub] = struct{}{}
	if t.last != nil {
		sub.offer(t.last)
	} else {
		h.refreshLocked(run, t)
	}
	return sub, nil
}

// unsubscribe closes a stream and frees its slots.
func (h *streamHub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open--
	if h.perUser[sub.user]--; h.perUser[sub.user] <= 0 {
		delete(h.perUser, sub.user)
	}
	h.openGauge.Dec()
	if t := h.topics[sub.run]; t != nil {
		delete(t.subs, sub)
		if len(t.subs) == 0 && !t.loading {
			delete(h.topics, sub.run)
		}
	}
}

// changed is the listener's callback: it schedules one load of each watched run among
// ids (every watched run for nil). It never blocks on a load.
func (h *streamHub) changed(ids []uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ids == nil {
		for id, t := range h.topics {
			h.refreshLocked(id, t)
		}
		return
	}
	for _, id := range ids {
		if t := h.topics[id]; t != nil {
			h.refreshLocked(id, t)
		}
	}
}

// refreshLocked starts a load of run, or marks it to load again when one is running.
func (h *streamHub) refreshLocked(run uuid.UUID, t *topic) {
	if t.loading {
		t.dirty = true
		return
	}
	t.loading = true
	go h.refresh(h.base, run, t)
}

// refresh loads run's state and hands it to the run's viewers, again as long as the run
// changed meanwhile.
func (h *streamHub) refresh(base context.Context, run uuid.UUID, t *topic) {
	for {
		st, err := h.loadOne(base, run)
		h.mu.Lock()
		switch {
		case err == nil && (t.last == nil || t.last.end != st.end || !bytes.Equal(t.last.data, st.data)):
			t.last = st
			for sub := range t.subs {
				sub.offer(st)
			}
		case err != nil && base.Err() == nil:
			h.log.Error("run stream: load", "run", run, "error", failure.Sanitize(err.Error()))
			if t.last == nil { // nothing to show: end the streams, the browser retries
				for sub := range t.subs {
					sub.offer(&streamState{end: true})
				}
			}
		}
		if t.dirty && len(t.subs) > 0 && base.Err() == nil {
			t.dirty = false
			h.mu.Unlock()
			continue
		}
		t.loading, t.dirty = false, false
		if len(t.subs) == 0 && h.topics[run] == t {
			delete(h.topics, run)
		}
		h.mu.Unlock()
		return
	}
}

// loadOne loads run's state, at most maxConcurrentLoads at a time. A panic of the load
// is an error: this goroutine is not a request's, no recover middleware guards it.
func (h *streamHub) loadOne(base context.Context, run uuid.UUID) (st *streamState, err error) {
	select {
	case h.slots <- struct{}{}:
	case <-base.Done():
		return nil, base.Err()
	}
	defer func() { <-h.slots }()
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("run stream: load panicked", "run", run, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			st, err = nil, errors.New("run stream: load panicked")
		}
	}()
	ctx, cancel := context.WithTimeout(base, loadTimeout)
	defer cancel()
	h.loads.Inc()
	return h.load(ctx, run)
}

// run feeds the hub from its change source until ctx ends, then ends every stream
// and refuses new ones.
func (h *streamHub) run(ctx context.Context) {
	h.mu.Lock()
	h.base = ctx
	h.mu.Unlock()
	if h.cfg.Changes != nil {
		if err := h.cfg.Changes.Listen(ctx, h.changed); err != nil && ctx.Err() == nil {
			h.log.Error("run stream listener stopped", "error", failure.Sanitize(err.Error()))
		}
	}
	<-ctx.Done()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for _, t := range h.topics {
		for sub := range t.subs {
			close(sub.done)
		}
	}
}

// ListenRunChanges feeds the run viewer's live streams from Deps.Streams.Changes until
// ctx ends, then ends every open stream. `atlas serve` runs it once, in the background.
func (s *Server) ListenRunChanges(ctx context.Context) { s.streams.run(ctx) }
