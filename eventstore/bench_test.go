package eventstore_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// The benchmarks run each store operation beside a raw-SQL baseline on the same
// database in the same run; `go tool task bench` prints both. Rates are reported as
// custom metrics (events/s, rows/s) so they can be compared directly.

// benchEvent is a payload of the size of a typical run event (~200 bytes of JSON).
type benchEvent struct {
	RunID    uuid.UUID      `json:"runId"`
	Type     string         `json:"type"`
	Counts   map[string]int `json:"counts"`
	Message  string         `json:"message"`
	Sequence int            `json:"sequence"`
}

func (benchEvent) EventType() string { return "BenchProgressed" }

func benchStore(b *testing.B) bundle {
	b.Helper()
	pool := pgtest.Fresh(b)
	r := eventstore.NewRegistry()
	r.Register(benchEvent{}, 1)
	return bundle{pool: pool, store: eventstore.New(pool, eventstore.Options{Registry: r}), ctx: b.Context()}
}

func benchEvents(n int) []eventstore.NewEvent {
	evs := make([]eventstore.NewEvent, n)
	m := eventstore.Metadata{Actor: "system:bench", WorkspaceID: uuid.New(), TenantID: uuid.New(), CorrelationID: uuid.New()}
	for i := range evs {
		evs[i] = eventstore.NewEvent{Data: benchEvent{
			RunID: uuid.New(), Type: "inventory.sync", Counts: map[string]int{"processed": i, "succeeded": i},
			Message: "processed a page of policies", Sequence: i,
		}, Metadata: m}
	}
	return evs
}

func benchmarkAppend(b *testing.B, batch int) {
	s := benchStore(b)
	evs := benchEvents(batch)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.store.Append(s.ctx, eventstore.NewStreamID("bench", uuid.New()), eventstore.NoStream, evs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// rawRows builds the same rows Append writes, ready for a plain multi-row INSERT.
func rawRows(n int) []any {
	evs := benchEvents(n)
	ids := make([]pgtype.UUID, n)
	types, datas, actors := make([]string, n), make([]string, n), make([]string, n)
	versions := make([]int32, n)
	uuids := make([]pgtype.UUID, n)
	times := make([]time.Time, n)
	hashes := make([][]byte, n)
	for i, e := range evs {
		data, _ := json.Marshal(e.Data)
		ids[i] = pgtype.UUID{Bytes: uuid.New(), Valid: true}
		types[i], datas[i], actors[i], versions[i] = e.Data.EventType(), string(data), e.Metadata.Actor, 1
		uuids[i] = pgtype.UUID{Bytes: e.Metadata.TenantID, Valid: true}
		times[i] = time.Now()
		hashes[i] = make([]byte, 32)
	}
	return []any{ids, types, versions, datas, actors, uuids, times, hashes}
}

const rawInsert = `INSERT INTO raw_events (event_id, stream_id, stream_type, stream_version, event_type, schema_version,
	data, actor, workspace_id, tenant_id, correlation_id, causation_id, recorded_at, hash)
	SELECT e.event_id, $1, 'bench', e.ord, e.event_type, e.schema_version, e.data::json, e.actor,
		e.tenant, e.tenant, e.tenant, NULL, e.recorded_at, e.hash
	FROM unnest($2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[], $7::uuid[], $8::timestamptz[], $9::bytea[])
		WITH ORDINALITY AS e(event_id, event_type, schema_version, data, actor, tenant, recorded_at, hash, ord)`

func benchmarkRawInsert(b *testing.B, batch int) {
	s := benchStore(b)
	_, err := s.pool.Exec(s.ctx, `CREATE TABLE raw_events (LIKE es_events INCLUDING ALL)`)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		// Fresh ids per iteration, as Append makes; building them is part of the work.
		args := rawRows(batch)
		err := pgx.BeginFunc(s.ctx, s.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(s.ctx, rawInsert, append([]any{fmt.Sprint("bench-", uuid.New())}, args...)...)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAppend1 appends one event per transaction.
func BenchmarkAppend1(b *testing.B) { benchmarkAppend(b, 1) }

// BenchmarkRawInsert1 is its baseline: one plain INSERT of the same row per transaction.
func BenchmarkRawInsert1(b *testing.B) { benchmarkRawInsert(b, 1) }

// BenchmarkAppend100 appends 100 events per transaction.
func BenchmarkAppend100(b *testing.B) { benchmarkAppend(b, 100) }

// BenchmarkRawInsert100 is its baseline: one multi-row INSERT of the same 100 rows.
func BenchmarkRawInsert100(b *testing.B) { benchmarkRawInsert(b, 100) }

const readAllEvents = 200_000

// seedForRead appends and seals readAllEvents events.
func seedForRead(b *testing.B) bundle {
	s := benchStore(b)
	evs := benchEvents(500)
	for range readAllEvents / len(evs) {
		if _, err := s.store.Append(s.ctx, eventstore.NewStreamID("bench", uuid.New()), eventstore.NoStream, evs...); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.store.Seal(s.ctx); err != nil {
		b.Fatal(err)
	}
	// Measure the steady state: sealing rewrote every row, so vacuum now rather than
	// have autovacuum and first-read hint-bit writes land inside the timed loop.
	if _, err := s.pool.Exec(s.ctx, `VACUUM (ANALYZE) es_events`); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkReadAll reads the whole log in pages of 1,000, decoding every payload into
// its Go type.
func BenchmarkReadAll(b *testing.B) {
	s := seedForRead(b)
	b.ResetTimer()
	total := 0
	for b.Loop() {
		var after int64
		for {
			envs, err := s.store.ReadAll(s.ctx, after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			if len(envs) == 0 {
				break
			}
			total += len(envs)
			after = envs[len(envs)-1].Position
		}
	}
	require.Equal(b, b.N*readAllEvents, total)
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRawReadAll is its baseline: the same pages with a plain SELECT, scanning the
// columns and decoding the JSON payload by hand.
func BenchmarkRawReadAll(b *testing.B) {
	s := seedForRead(b)
	b.ResetTimer()
	total := 0
	for b.Loop() {
		var after int64
		for {
			rows, err := s.pool.Query(s.ctx, `SELECT global_position, event_type, data FROM es_events
				WHERE global_position > $1 ORDER BY global_position LIMIT 1000`, after)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var typ string
				var data []byte
				if err := rows.Scan(&after, &typ, &data); err != nil {
					b.Fatal(err)
				}
				var ev benchEvent
				if err := json.Unmarshal(data, &ev); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n == 0 {
				break
			}
			total += n
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
