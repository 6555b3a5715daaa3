package projections

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sqlRunsByBucket (runner.sql) feeds the atlas_runs gauge.
var sqlRunsByBucket = sqlQueries.Get("RunsByBucket")

// Status is a projection's position relative to the log.
type Status struct {
	// Name and Version identify the projection.
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Checkpoint is the last global position applied.
	Checkpoint int64 `json:"checkpoint"`
	// Head is the last sealed global position.
	Head int64 `json:"head"`
	// Lag is Head - Checkpoint.
	Lag int64 `json:"lag"`
	// Rebuilding is true while this version is being built and an older one serves
	// the reads (ActiveVersion differs).
	Rebuilding bool `json:"rebuilding"`
}

// Status reports where each projection stands.
func (r *Runner) Status(ctx context.Context, ps ...Projection) ([]Status, error) {
	head, err := r.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(ps))
	for _, p := range ps {
		cp, err := r.Checkpoint(ctx, p)
		if err != nil {
			return nil, err
		}
		active, err := r.ActiveVersion(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, Status{Name: p.Name(), Version: p.Version(), Checkpoint: cp, Head: head, Lag: max(0, head-cp),
			Rebuilding: active != p.Version()})
	}
	return out, nil
}

// Collector exports projection lag and the hub's runs by status bucket to Prometheus,
// read at scrape time from the database.
type Collector struct {
	runner *Runner
	ps     []Projection
	lag    *prometheus.Desc
	cp     *prometheus.Desc
	runs   *prometheus.Desc
}

// NewCollector returns a Collector for the given projections.
func NewCollector(r *Runner, ps ...Projection) *Collector {
	return &Collector{runner: r, ps: ps,
		lag:  prometheus.NewDesc("atlas_projection_lag_events", "Sealed events not yet applied by the projection.", []string{"projection"}, nil),
		cp:   prometheus.NewDesc("atlas_projection_checkpoint", "Global position the projection has applied up to.", []string{"projection"}, nil),
		runs: prometheus.NewDesc("atlas_runs", "Runs in the hub read model by status bucket.", []string{"bucket"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.cp
	ch <- c.runs
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if st, err := c.runner.Status(ctx, c.ps...); err == nil {
		for _, s := range st {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(s.Lag), s.Name)
			ch <- prometheus.MustNewConstMetric(c.cp, prometheus.GaugeValue, float64(s.Checkpoint), s.Name)
		}
	}
	rows, err := c.runner.pool.Query(ctx, sqlRunsByBucket)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var bucket string
		var n int64
		if rows.Scan(&bucket, &n) == nil {
			ch <- prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, float64(n), bucket)
		}
	}
}
