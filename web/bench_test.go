package web_test

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// BenchmarkAPIStart starts runs with distinct identities through the JSON API on a
// loopback port from 8 concurrent HTTP clients (bearer token check, authorization,
// the start gate, the JSON answer). Compare with BenchmarkStartGate and
// BenchmarkRawStartBaseline in modules/operations.
func BenchmarkAPIStart(b *testing.B) {
	h := startHubTB(b, pgtest.Fresh(b))
	url := h.base + "/api/v1/tenants/" + h.seed.Tenants[0].ID.String() + "/operations/drift.generate/start"
	token := "Bearer " + h.seed.Users["operator"].Token
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"context":{"baseline":"snapshot-%d"}}`, seq.Add(1))
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("Authorization", token)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
	}
}
