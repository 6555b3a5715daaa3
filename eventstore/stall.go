package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SealStatus is where sealing stands: how many committed events wait for a global
// position and for how long.
//
// The stall signal is the age of the oldest waiting event, not the time since the
// sealer last advanced: on an idle system nothing waits, so the age stays 0 instead of
// growing until it looks stuck, and an event committed after an hour of quiet is not
// "an hour late" for the milliseconds before the sealer takes it. When a transaction
// anywhere on the server holds an id, sealing cannot pass it (see Seal), and the age of
// the events committed after it grows: that is the stall /readyz reports.
type SealStatus struct {
	// Head is the last sealed global position.
	Head int64
	// LastSeal is when the sealer last advanced.
	LastSeal time.Time
	// Unsealed is how many committed events have no global position yet.
	Unsealed int64
	// OldestUnsealedAge is how long ago the oldest of them was appended (0 when none).
	OldestUnsealedAge time.Duration
	// Blocker describes the oldest transaction holding an id on the server while events
	// wait ("open 41s, idle in transaction"), when PostgreSQL shows it; "" otherwise.
	Blocker string
}

// SealStatus reports where sealing stands. Only committed events are counted (an
// event of a transaction still open is not visible yet).
func (s *Store) SealStatus(ctx context.Context) (SealStatus, error) {
	var st SealStatus
	var ageSeconds float64
	// Every unsealed event is at or after the last sealed transaction id (see
	// migration 003), which keeps the scan off the index entries of sealed events.
	err := s.pool.QueryRow(ctx, `SELECT h.position, h.sealed_at, u.n,
			COALESCE(GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - u.oldest), 0), 0)::float8
		FROM es_seal_head h, LATERAL (SELECT count(*), min(e.recorded_at) FROM es_events e
			WHERE e.global_position IS NULL AND e.transaction_id >= h.last_transaction_id) AS u(n, oldest)`).
		Scan(&st.Head, &st.LastSeal, &st.Unsealed, &ageSeconds)
	if err != nil {
		return SealStatus{}, fmt.Errorf("eventstore: seal status: %w", err)
	}
	st.OldestUnsealedAge = time.Duration(ageSeconds * float64(time.Second))
	if st.Unsealed == 0 {
		return st, nil
	}
	// The seal horizon is the oldest transaction that holds an id. Its state and age
	// only (never its query text) say what to look for.
	var open float64
	var state string
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - xact_start), 0)::float8, COALESCE(state, '')
		FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
		ORDER BY age(backend_xid) DESC LIMIT 1`).Scan(&open, &state)
	if err == nil {
		st.Blocker = fmt.Sprintf("open %ds", int64(open))
		if state != "" {
			st.Blocker += ", " + state
		}
	}
	return st, nil
}

// Collector exports sealing to Prometheus, read at scrape time.
type Collector struct {
	store                               *Store
	head, unsealed, oldestAge, lastSeal *prometheus.Desc
}

// NewCollector returns a Collector for store.
func NewCollector(store *Store) *Collector {
	return &Collector{store: store,
		head:     prometheus.NewDesc("atlas_seal_head_position", "Last sealed global position of the event log.", nil, nil),
		unsealed: prometheus.NewDesc("atlas_events_unsealed", "Committed events without a global position yet (waiting for the sealer).", nil, nil),
		oldestAge: prometheus.NewDesc("atlas_seal_oldest_unsealed_age_seconds",
			"Age of the oldest committed event still waiting for a global position; 0 when none waits (an idle log does not age). Alert on this.", nil, nil),
		lastSeal: prometheus.NewDesc("atlas_seal_last_timestamp_seconds",
			"Unix time the sealer last advanced (grows old on an idle log too: read with atlas_events_unsealed).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.head
	ch <- c.unsealed
	ch <- c.oldestAge
	ch <- c.lastSeal
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.store.SealStatus(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(st.Head))
	ch <- prometheus.MustNewConstMetric(c.unsealed, prometheus.GaugeValue, float64(st.Unsealed))
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, st.OldestUnsealedAge.Seconds())
	ch <- prometheus.MustNewConstMetric(c.lastSeal, prometheus.GaugeValue, float64(st.LastSeal.UnixNano())/1e9)
}
