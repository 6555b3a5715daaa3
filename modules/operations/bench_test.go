package operations_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// callers is the number of concurrent start callers in the benchmarks: with
// GOMAXPROCS 2, RunParallel with SetParallelism(4) runs 8 goroutines.
const callers = 8

// latencies collects per-call durations from parallel goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	p99 := l.d[min(len(l.d)-1, len(l.d)*99/100)]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(l.d))/b.Elapsed().Seconds(), "tx/s")
}

func parallelism(b *testing.B) {
	n := callers / max(1, runtime.GOMAXPROCS(0))
	b.SetParallelism(max(1, n))
}

// BenchmarkStartGate starts runs with distinct identities through the Go API from 8
// concurrent callers: authorization, dedupe, RunQueued, the dispatch message and the
// initiator's notification, each start one transaction.
func BenchmarkStartGate(b *testing.B) { benchStartGate(b) }

// BenchmarkStartGateGrouped is BenchmarkStartGate with the group commit on
// (Options.GroupCommit): concurrent starts share transactions.
func BenchmarkStartGateGrouped(b *testing.B) {
	benchStartGate(b, groupCommit)
}

func benchStartGate(b *testing.B, opts ...fixtureOpt) {
	f := newFixture(b, pgtest.Fresh(b), opts...)
	var seq atomic.Int64
	var lat latencies
	parallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.tenant,
				Context:   []byte(fmt.Sprintf(`{"baseline":"snapshot-%d"}`, seq.Add(1))),
				Initiator: f.initiator("operator"), SourceSurface: "bench"})
			if err != nil || out.Status != operations.StartAccepted {
				b.Errorf("start: %v %s", err, out.Status)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b)
	_, grouped, _ := f.ops.GroupCommitStats()
	b.ReportMetric(float64(grouped)/float64(b.N), "grouped/op")
}

// BenchmarkRawStartBaseline is the baseline: from 8 concurrent callers, one INSERT per
// transaction of one row the size of a queued run: the run's columns plus a RunQueued
// payload of the same shape and size as the gate's.
func BenchmarkRawStartBaseline(b *testing.B) {
	f := newFixture(b, pgtest.Fresh(b))
	_, err := f.pool.Exec(f.ctx, `CREATE TABLE raw_runs (run_id uuid PRIMARY KEY, type text, workspace_id uuid, tenant_id uuid,
		status text, identity_hash text, initiator uuid, queued_at timestamptz, payload json)`)
	require.NoError(b, err)
	var seq atomic.Int64
	var lat latencies
	parallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			n := seq.Add(1)
			runID := uuid.New()
			identity := fmt.Sprintf("%064x", n)
			payload, err := json.Marshal(operations.RunQueued{RunID: runID, Type: "drift.generate", WorkspaceID: f.workspace,
				TenantID: f.tenant, Initiator: f.initiator("operator"), IdentityHash: identity,
				Context: json.RawMessage(fmt.Sprintf(`{"baseline":"snapshot-%d"}`, n)), SourceSurface: "bench", QueuedAt: t0})
			if err != nil {
				b.Error(err)
				return
			}
			err = pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(f.ctx, `INSERT INTO raw_runs VALUES ($1, 'drift.generate', $2, $3, 'queued', $4, $5, now(), $6)`,
					runID, f.workspace, f.tenant, identity, f.users["operator"].ID, string(payload))
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b)
}
