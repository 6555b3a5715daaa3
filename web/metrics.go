package web

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantatlas/ops/projections"
)

// metrics is the app's Prometheus registry and its HTTP histogram.
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
}

func newMetrics(extra ...prometheus.Collector) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atlas_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
	}
	m.reg.MustRegister(m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range extra {
		m.reg.MustRegister(c)
	}
	return m
}

// observe records each request's latency under its route pattern (not its path, so
// ids do not explode the label set).
func (m *metrics) observe(c *fiber.Ctx) error {
	start := time.Now()
	// fasthttp reuses its buffers: copy the method before the handler runs.
	method := strings.Clone(c.Method())
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		if fe, ok := err.(*fiber.Error); ok {
			status = fe.Code
		} else {
			status = fiber.StatusInternalServerError
		}
	}
	m.duration.WithLabelValues(method, strings.Clone(c.Route().Path), strconv.Itoa(status)).Observe(time.Since(start).Seconds())
	return err
}

// handler serves /metrics in the Prometheus text format.
func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// replicaLagCollectors export the read replica's lag, measured at each scrape.
func replicaLagCollectors(measure func(context.Context) (projections.ReplicaLag, error)) []prometheus.Collector {
	read := func(pick func(projections.ReplicaLag) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			lag, err := measure(ctx)
			if err != nil {
				return -1 // unknown: the replica (or primary) did not answer
			}
			return pick(lag)
		}
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "atlas_read_replica_lag_bytes",
			Help: "WAL bytes the read replica has yet to replay (-1: unknown)."},
			read(func(l projections.ReplicaLag) float64 { return float64(l.Bytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "atlas_read_replica_lag_seconds",
			Help: "Seconds since the last transaction the read replica replayed, while it is behind (0: caught up, -1: unknown)."},
			read(func(l projections.ReplicaLag) float64 { return l.Seconds })),
	}
}
