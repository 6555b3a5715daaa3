package audit

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The cap of RecordLimited: at most DeniedLimit entries per key in a window of
// DeniedWindow (fixed windows, starting at a key's first entry), counted in memory per
// process.
const (
	// DeniedLimit is the number of limited entries one key may record per window.
	DeniedLimit = 20
	// DeniedWindow is the length of a key's window.
	DeniedWindow = time.Minute
	// maxLimiterKeys bounds the limiter's memory: beyond it, entries of new keys are
	// suppressed until expired windows free room.
	maxLimiterKeys = 10_000
)

var suppressed = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "atlas_audit_suppressed_total",
	Help: "Audit entries held back by the per-actor cap on denied views and starts, by action.",
}, []string{"action"})

// Suppressed is the counter of audit entries RecordLimited held back
// (atlas_audit_suppressed_total{action}), for registering with a registry.
func Suppressed() prometheus.Collector { return suppressed }

// Limiter allows at most limit events per key in fixed windows of a given length,
// counted in memory; it is safe for concurrent use.
type Limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*limitWindow
}

// limitWindow is a key's current window: when it started and how many it allowed.
type limitWindow struct {
	start time.Time
	n     int
}

// NewLimiter returns a Limiter allowing limit events per key and window.
func NewLimiter(limit int, window time.Duration) *Limiter {
	return &Limiter{limit: limit, window: window, now: time.Now, keys: map[string]*limitWindow{}}
}

// Allow reports whether key may have one more event now, and counts it if so.
func (l *Limiter) Allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.keys[key]
	if ok && now.Sub(w.start) >= l.window {
		w.start, w.n = now, 0
	}
	if !ok {
		if len(l.keys) >= maxLimiterKeys {
			l.sweep(now)
			if len(l.keys) >= maxLimiterKeys {
				return false
			}
		}
		w = &limitWindow{start: now}
		l.keys[key] = w
	}
	if w.n >= l.limit {
		return false
	}
	w.n++
	return true
}

// sweep forgets the keys whose window has passed.
func (l *Limiter) sweep(now time.Time) {
	for k, w := range l.keys {
		if now.Sub(w.start) >= l.window {
			delete(l.keys, k)
		}
	}
}
