package operations_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// walPerStart runs n accepted starts (from callers goroutines) and returns the WAL
// bytes their transactions wrote per start, with and without full-page images, and a
// breakdown by relation. It reads the WAL with pg_walinspect and counts only records of
// the transactions that wrote the starts' events (the cluster is shared: other
// databases' WAL is left out).
func walPerStart(t *testing.T, f *fixture, n, callers int) (total, noFPI float64, byRel map[string]float64) {
	t.Helper()
	_, err := f.pool.Exec(f.ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect`)
	require.NoError(t, err)
	// Warm up: first rows of each table, so the figure is the steady state.
	for i := range 5 {
		f.start(t, "operator", "drift.generate", f.tenant, fmt.Sprintf(`{"baseline":"warm-%d-%d"}`, callers, i))
	}
	// A temporary replication slot of a connection of its own keeps the WAL from here
	// until it is read (the shared cluster recycles segments within seconds).
	slot, err := f.pool.Acquire(f.ctx)
	require.NoError(t, err)
	defer slot.Release()
	var from string
	_, err = slot.Exec(f.ctx, `SELECT pg_create_physical_replication_slot('wal_'||pg_backend_pid(), true, true)`)
	require.NoError(t, err)
	// The slot holds from the last checkpoint's redo pointer on; the starts begin here.
	require.NoError(t, slot.QueryRow(f.ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&from))
	defer func() {
		_, err := slot.Exec(f.ctx, `SELECT pg_drop_replication_slot('wal_'||pg_backend_pid())`)
		require.NoError(t, err)
	}()
	var wg sync.WaitGroup
	per := n / callers
	for c := range callers {
		wg.Go(func() {
			for i := range per {
				out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "drift.generate", TenantID: f.tenant,
					Context:   fmt.Appendf(nil, `{"baseline":"wal-%d-%d-%d"}`, callers, c, i),
					Initiator: f.initiator("operator"), SourceSurface: "test"})
				if err != nil || out.Status != operations.StartAccepted {
					t.Errorf("start: %v %s", err, out.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	var to string
	// The flushed end: pg_walinspect refuses an end past it, and the WAL written (not
	// yet flushed) by other tests' asynchronous commits can be ahead (CI 2026-12-02:
	// "cannot accept future end LSN"). The starts committed synchronously: flushed.
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT pg_current_wal_flush_lsn()::text`).Scan(&to))
	starts := float64(per * callers)
	rows, err := f.pool.Query(f.ctx, `
		WITH x AS (SELECT DISTINCT (transaction_id::text::bigint % 4294967296) AS xid FROM es_events WHERE data->>'sourceSurface' = 'test' OR event_type IN ('AuditRecorded', 'NotificationSent')),
		r AS (SELECT w.* FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) w JOIN x ON x.xid = w.xid::text::bigint)
		SELECT COALESCE(substring(block_ref from 'rel [0-9]+/[0-9]+/([0-9]+)'), resource_manager || ':' || record_type) AS k,
			sum(record_length), sum(record_length - fpi_length)
		FROM r GROUP BY 1 ORDER BY 2 DESC`, from, to)
	require.NoError(t, err)
	byRel = map[string]float64{}
	for rows.Next() {
		var k string
		var all, nofpi int64
		require.NoError(t, rows.Scan(&k, &all, &nofpi))
		total += float64(all) / starts
		noFPI += float64(nofpi) / starts
		byRel[k] = float64(all) / starts
	}
	require.NoError(t, rows.Err())
	// Name relations by filenode.
	names := map[string]float64{}
	for k, v := range byRel {
		var name string
		if err := f.pool.QueryRow(f.ctx, `SELECT relname FROM pg_class WHERE relfilenode = $1::oid`, k).Scan(&name); err == nil {
			k = name
		}
		names[k] += v
	}
	return total, noFPI, names
}

// TestStartWALPerStart measures the WAL an accepted drift start writes, started one at
// a time and from 8 callers (grouped), and holds it under a bound: about 4.7 KB a start
// (2026-12-01), most of it the three events (RunQueued, NotificationSent, the audit
// entry) and their index entries. A start that writes a row or an index entry more
// than it did goes over.
func TestStartWALPerStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t), groupCommit)
	for _, callers := range []int{1, 8} {
		total, noFPI, byRel := walPerStart(t, f, 160, callers)
		t.Logf("callers %d: WAL per start %.0f bytes (%.0f without full-page images)", callers, total, noFPI)
		for k, v := range byRel {
			t.Logf("  %-40s %7.0f", k, v)
		}
		require.Greater(t, noFPI, 2000.0, "the starts' transactions were found in the WAL")
		require.Less(t, noFPI, 5500.0, "WAL per start (without full-page images)")
	}
}
