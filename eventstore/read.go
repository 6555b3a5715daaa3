package eventstore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// PlanEachTime is the query mode (pgx: the first argument) of a statement that a
// background loop runs once a batch over a table that grows from empty (the log, the
// runs, the read models): it is planned at each execution, for the table as it is then.
// With a statement prepared once per connection (pgx's default), PostgreSQL settles on a
// generic plan after five executions and keeps it until the table is analyzed: planned
// on a fresh database, a lookup of a few keys stayed a sequential scan while the table
// grew (the workers' ReadStreamsTx read the whole log: 37 ms a call after 40 s at 500
// starts/s). Planning costs tens of microseconds, once a batch; statements of the start
// path (one an event or a start) keep their prepared plans.
const PlanEachTime = pgx.QueryExecModeCacheDescribe

const selectColumns = `event_id, stream_id, stream_version, COALESCE(global_position, 0),
	event_type, schema_version, data, actor, workspace_id, tenant_id, correlation_id, causation_id,
	recorded_at, hash, chain_hash`

// ReadStream returns the events of stream with a version greater than afterVersion, in
// stream order (afterVersion 0 reads the whole stream). Events appended by committed
// transactions are returned at once, sealed or not.
func (s *Store) ReadStream(ctx context.Context, stream StreamID, afterVersion int64) ([]Envelope, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns+` FROM es_events
		WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version`, string(stream), afterVersion)
	if err != nil {
		return nil, fmt.Errorf("eventstore: read stream %s: %w", stream, err)
	}
	return s.collect(rows, true, 0)
}

// ReadStreamTx is ReadStream inside the caller's transaction: it sees the events that
// transaction appended, so a module can change a stream and load it in one transaction.
func (s *Store) ReadStreamTx(ctx context.Context, tx pgx.Tx, stream StreamID, afterVersion int64) ([]Envelope, error) {
	rows, err := tx.Query(ctx, `SELECT `+selectColumns+` FROM es_events
		WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version`, string(stream), afterVersion)
	if err != nil {
		return nil, fmt.Errorf("eventstore: read stream %s: %w", stream, err)
	}
	return s.collect(rows, true, 0)
}

// ReadStreamsTx is ReadStreamTx for several streams in one query: for each stream of
// after, its events with a version greater than the one given, in stream order. A
// stream with no such events has no entry. Writers that change many streams in one
// transaction (the workers' batched claims and ends) load them in one round trip.
func (s *Store) ReadStreamsTx(ctx context.Context, tx pgx.Tx, after map[StreamID]int64) (map[StreamID][]Envelope, error) {
	if len(after) == 0 {
		return map[StreamID][]Envelope{}, nil
	}
	ids, versions := make([]string, 0, len(after)), make([]int64, 0, len(after))
	for id, v := range after {
		ids, versions = append(ids, string(id)), append(versions, v)
	}
	rows, err := tx.Query(ctx, `SELECT `+selectColumns+` FROM es_events
		JOIN unnest($1::text[], $2::bigint[]) AS a(a_stream, a_after) ON stream_id = a.a_stream AND stream_version > a.a_after
		ORDER BY stream_id, stream_version`, PlanEachTime, ids, versions)
	if err != nil {
		return nil, fmt.Errorf("eventstore: read %d streams: %w", len(after), err)
	}
	envs, err := s.collect(rows, true, 2*len(after))
	if err != nil {
		return nil, err
	}
	out := make(map[StreamID][]Envelope, len(after))
	for i := 0; i < len(envs); {
		j := i + 1
		for j < len(envs) && envs[j].StreamID == envs[i].StreamID {
			j++
		}
		out[envs[i].StreamID] = envs[i:j:j]
		i = j
	}
	return out, nil
}

// ReadAll returns up to limit sealed events with a global position greater than
// afterPosition, in global order. It never returns an event past one whose transaction
// may still commit: positions are only given to events of ended transactions (see Seal),
// so a reader that resumes from the last position it saw never skips an event.
func (s *Store) ReadAll(ctx context.Context, afterPosition int64, limit int) ([]Envelope, error) {
	if limit <= 0 {
		limit = 1000
	}
	envs, err := s.readAll(ctx, afterPosition, limit, true)
	if err != nil || len(envs) == limit {
		return envs, err
	}
	// Fewer than asked for: seal what has committed since, then look again.
	sealed, err := s.Seal(ctx)
	if err != nil {
		return nil, err
	}
	if sealed == 0 {
		return envs, nil
	}
	return s.readAll(ctx, afterPosition, limit, true)
}

// ReadAllRaw is ReadAll's query and scan without decoding the payloads (Data is nil,
// RawData set) and without sealing: the raw cost of reading the log, a baseline for
// what is done with the events (`atlas bench rebuild`).
func (s *Store) ReadAllRaw(ctx context.Context, afterPosition int64, limit int) ([]Envelope, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.readAll(ctx, afterPosition, limit, false)
}

// ReadTenant returns up to limit sealed events of tenant with a global position greater
// than afterPosition and recorded at or before upTo (zero: no bound), in global order.
// It reads the tenant's index (migration 005), never the whole log; the caller pages
// on with the last position returned, and an empty page is the end.
func (s *Store) ReadTenant(ctx context.Context, tenant uuid.UUID, afterPosition int64, upTo time.Time, limit int) ([]Envelope, error) {
	if limit <= 0 {
		limit = 1000
	}
	bound := pgtype.Timestamptz{Time: upTo, Valid: !upTo.IsZero()}
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns+` FROM es_events
		WHERE tenant_id = $1 AND global_position IS NOT NULL AND global_position > $2
		  AND ($3::timestamptz IS NULL OR recorded_at <= $3)
		ORDER BY global_position LIMIT $4`, tenant, afterPosition, bound, limit)
	if err != nil {
		return nil, fmt.Errorf("eventstore: read tenant: %w", err)
	}
	return s.collect(rows, true, limit)
}

// ChainHead is the hash chain's head: the last sealed global position and its chain
// hash (empty at position 0), what an export names so it can be checked against the log.
type ChainHead struct {
	Position int64  `json:"position"`
	Hash     []byte `json:"hash"`
}

// Chain returns the current chain head (es_seal_head).
func (s *Store) Chain(ctx context.Context) (ChainHead, error) {
	var h ChainHead
	if err := s.pool.QueryRow(ctx, `SELECT position, chain_hash FROM es_seal_head`).Scan(&h.Position, &h.Hash); err != nil {
		return ChainHead{}, fmt.Errorf("eventstore: chain head: %w", err)
	}
	return h, nil
}

func (s *Store) readAll(ctx context.Context, after int64, limit int, decode bool) ([]Envelope, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns+` FROM es_events
		WHERE global_position > $1 ORDER BY global_position LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("eventstore: read all: %w", err)
	}
	return s.collect(rows, decode, limit)
}

// parallelDecodeMin is the page size from which payloads are decoded by worker
// goroutines while the rows are still being scanned: JSON decoding costs more than
// scanning, and on a multi-core machine the two overlap.
const parallelDecodeMin = 256

// decodeChunk is how many scanned rows are handed to a decoder at once.
const decodeChunk = 64

func (s *Store) collect(rows pgx.Rows, decode bool, sizeHint int) ([]Envelope, error) {
	defer rows.Close()
	if sizeHint < 16 {
		sizeHint = 16
	}
	// out is never grown while decoders run: they index into its backing array.
	out := make([]Envelope, sizeHint)
	n := 0
	var dec *decoders
	if decode && sizeHint >= parallelDecodeMin && runtime.GOMAXPROCS(0) > 1 {
		dec = s.startDecoders(out)
		defer dec.stop()
	}
	var (
		id, ws, tenant, corr, cause pgtype.UUID
		streamID, typ, actor        string
		data, hash, chain           []byte
		recorded                    time.Time
		arena                       = newPageArena()
		// The scanners are made once per page: each row's bytes are copied into the
		// page's arena instead of one allocation per column.
		streamIDS = arenaString{a: arena, dst: &streamID}
		typS      = arenaString{a: arena, dst: &typ}
		actorS    = arenaString{a: arena, dst: &actor}
		dataS     = arenaBytes{a: arena, dst: &data}
		hashS     = arenaBytes{a: arena, dst: &hash}
		chainS    = arenaBytes{a: arena, dst: &chain}
	)
	for rows.Next() {
		if n == len(out) {
			if dec != nil {
				// Cannot happen with LIMIT sizeHint; fail rather than race.
				return nil, fmt.Errorf("eventstore: more rows than the page size %d", sizeHint)
			}
			out = append(out, Envelope{})
			out = out[:cap(out)]
		}
		e := &out[n]
		if err := rows.Scan(&id, streamIDS, &e.StreamVersion, &e.Position,
			typS, &e.SchemaVersion, dataS, actorS, &ws, &tenant, &corr, &cause,
			&recorded, hashS, chainS); err != nil {
			return nil, fmt.Errorf("eventstore: scan event: %w", err)
		}
		e.EventID = id.Bytes
		e.Type = typ
		e.Metadata.Actor = actor
		e.RawData = data
		e.Hash = hash
		e.ChainHash = chain
		e.StreamID = StreamID(streamID)
		e.StreamType = e.StreamID.Type()
		e.Metadata.WorkspaceID = FromNullUUID(ws)
		e.Metadata.TenantID = FromNullUUID(tenant)
		e.Metadata.CorrelationID = FromNullUUID(corr)
		e.Metadata.CausationID = FromNullUUID(cause)
		e.RecordedAt = recorded.UTC()
		n++
		switch {
		case dec != nil && n%decodeChunk == 0:
			dec.submit(n-decodeChunk, n)
		case decode && dec == nil:
			ev, err := s.reg.Decode(e.Type, e.SchemaVersion, e.RawData)
			if err != nil {
				return nil, err
			}
			e.Data = ev
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventstore: read events: %w", err)
	}
	if dec != nil {
		if rest := n % decodeChunk; rest > 0 {
			dec.submit(n-rest, n)
		}
		if err := dec.wait(); err != nil {
			return nil, err
		}
	}
	return out[:n], nil
}

// decoders decode payloads of out[from:to] ranges on worker goroutines.
type decoders struct {
	work chan [2]int
	wg   sync.WaitGroup
	once sync.Once
	mu   sync.Mutex
	err  error
}

func (s *Store) startDecoders(out []Envelope) *decoders {
	d := &decoders{work: make(chan [2]int, len(out)/decodeChunk+1)}
	for range runtime.GOMAXPROCS(0) {
		d.wg.Go(func() {
			for r := range d.work {
				for i := r[0]; i < r[1]; i++ {
					e := &out[i]
					ev, err := s.reg.Decode(e.Type, e.SchemaVersion, e.RawData)
					if err != nil {
						d.mu.Lock()
						if d.err == nil {
							d.err = err
						}
						d.mu.Unlock()
						continue
					}
					e.Data = ev
				}
			}
		})
	}
	return d
}

func (d *decoders) submit(from, to int) { d.work <- [2]int{from, to} }

// wait closes the queue, waits for the workers and returns the first decode error.
func (d *decoders) wait() error {
	d.stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *decoders) stop() {
	d.once.Do(func() {
		close(d.work)
		d.wg.Wait()
	})
}

// pageArena holds the bytes and strings of one page of rows: a few large allocations
// instead of six small ones per row. Slices handed out are capped, so appending to one
// never writes into its neighbour.
type pageArena struct {
	chunk   []byte
	strings map[string]string
	last    string
}

func newPageArena() *pageArena {
	return &pageArena{strings: make(map[string]string, 16)}
}

func (a *pageArena) bytes(src []byte) []byte {
	if len(src) > cap(a.chunk)-len(a.chunk) {
		a.chunk = make([]byte, 0, max(64<<10, len(src)))
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, src...)
	return a.chunk[start:len(a.chunk):len(a.chunk)]
}

// str interns short, repeating values (event types, actors) and reuses the previous
// value when a column repeats row after row (a stream's consecutive events).
func (a *pageArena) str(src []byte) string {
	if string(src) == a.last {
		return a.last
	}
	if len(src) <= 64 {
		if s, ok := a.strings[string(src)]; ok {
			a.last = s
			return s
		}
		if len(a.strings) < 256 {
			s := string(src)
			a.strings[s] = s
			a.last = s
			return s
		}
	}
	a.last = string(src)
	return a.last
}

// arenaBytes scans a bytea/json/text column into the page arena.
type arenaBytes struct {
	a   *pageArena
	dst *[]byte
}

// ScanBytes implements pgtype.BytesScanner; src is only valid during the call.
func (b arenaBytes) ScanBytes(src []byte) error {
	if src == nil {
		*b.dst = nil
		return nil
	}
	*b.dst = b.a.bytes(src)
	return nil
}

// arenaString scans a text column through the page's interning.
type arenaString struct {
	a   *pageArena
	dst *string
}

// ScanBytes implements pgtype.BytesScanner; src is only valid during the call.
func (s arenaString) ScanBytes(src []byte) error {
	*s.dst = s.a.str(src)
	return nil
}
