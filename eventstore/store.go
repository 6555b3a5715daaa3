package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configure a Store.
type Options struct {
	// Registry decodes payloads; required.
	Registry *Registry
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock used for RecordedAt; nil means time.Now.
	Now func() time.Time
}

// Store is the PostgreSQL event store.
type Store struct {
	pool      *pgxpool.Pool
	reg       *Registry
	log       *slog.Logger
	now       func() time.Time
	schema    wsql.DefaultPostgreSQLSchema
	wmLogger  watermill.LoggerAdapter
	sealBatch int
	// sealWake wakes RunSealer (WakeSealer); one pending wake-up stands for any number.
	sealWake chan struct{}
	// sealTurn is held by the one Seal of this process that is running (see Seal);
	// sealMu guards the counters: seals started, events they sealed, callers in Seal.
	sealTurn     chan struct{}
	sealMu       sync.Mutex
	sealsStarted uint64
	sealedTotal  int64
	sealCallers  int
}

// New returns a Store over pool. The schema must have been migrated (Migrations).
func New(pool *pgxpool.Pool, opts Options) *Store {
	if opts.Registry == nil {
		panic("eventstore: Options.Registry is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		sealTurn:  make(chan struct{}, 1),
		pool:      pool,
		reg:       opts.Registry,
		log:       log,
		now:       now,
		wmLogger:  watermill.NewSlogLogger(log),
		sealBatch: 5000,
		sealWake:  make(chan struct{}, 1),
	}
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// AppendResult describes a successful append.
type AppendResult struct {
	// Version is the stream's version after the append.
	Version int64
	// Events are the appended events as they will be read back (Position still 0).
	Events []Envelope
}

// Append appends events to stream in a transaction of its own. expectedVersion is the
// stream's current version, NoStream for a new stream, or AnyVersion.
func (s *Store) Append(ctx context.Context, stream StreamID, expectedVersion int64, events ...NewEvent) (AppendResult, error) {
	var res AppendResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.AppendTx(ctx, tx, stream, expectedVersion, events...)
		return err
	})
	if err == nil {
		s.WakeSealer()
	}
	return res, err
}

// AppendTx appends events inside the caller's transaction, so a module can write its
// own rows, events and outbox messages (Publisher, Batch.Publish) atomically. An append
// writes no outbox message of its own: readers follow the log by global position.
// A *ConcurrencyError leaves the transaction usable.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, stream StreamID, expectedVersion int64, events ...NewEvent) (AppendResult, error) {
	if err := checkAppend(stream, expectedVersion, events); err != nil {
		return AppendResult{}, err
	}
	n := int64(len(events))
	base := expectedVersion
	if expectedVersion == AnyVersion {
		var v int64
		err := tx.QueryRow(ctx, `
			INSERT INTO es_streams (stream_id, stream_type, version) VALUES ($1, $2, $3)
			ON CONFLICT (stream_id) DO UPDATE SET version = es_streams.version + EXCLUDED.version, updated_at = now()
			RETURNING version`, string(stream), stream.Type(), n).Scan(&v)
		if err != nil {
			return AppendResult{}, fmt.Errorf("eventstore: append %s: %w", stream, err)
		}
		base = v - n
	}
	envs, args, err := s.prepare(stream, base, events)
	if err != nil {
		return AppendResult{}, err
	}
	tag, err := tx.Exec(ctx, appendSQL(expectedVersion), args...)
	if err != nil {
		return AppendResult{}, fmt.Errorf("eventstore: append %s: %w", stream, err)
	}
	if tag.RowsAffected() != n {
		return AppendResult{}, conflictVersion(ctx, tx, stream, expectedVersion)
	}
	return AppendResult{Version: base + n, Events: envs}, nil
}

func checkAppend(stream StreamID, expectedVersion int64, events []NewEvent) error {
	if len(events) == 0 {
		return ErrNoEvents
	}
	if stream == "" {
		return errors.New("eventstore: empty stream id")
	}
	if expectedVersion < AnyVersion {
		return fmt.Errorf("eventstore: invalid expected version %d", expectedVersion)
	}
	return nil
}

// conflictVersion reads the stream's actual version for a *ConcurrencyError.
func conflictVersion(ctx context.Context, db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, stream StreamID, expected int64) error {
	var actual int64
	err := db.QueryRow(ctx, `SELECT COALESCE((SELECT version FROM es_streams WHERE stream_id = $1), 0)`, string(stream)).Scan(&actual)
	if err != nil {
		return fmt.Errorf("eventstore: append %s: read version: %w", stream, err)
	}
	return &ConcurrencyError{Stream: stream, Expected: expected, Actual: actual}
}

// appendSQL is the one statement that checks the stream version and inserts the events:
// the CTE claims the stream row (insert for a new stream, conditional update for an
// exact version), and the events are inserted only if it returned a row.
func appendSQL(expectedVersion int64) string {
	var streamCTE string
	switch expectedVersion {
	case AnyVersion: // the version was taken by an upsert beforehand
		streamCTE = `SELECT $1::text AS stream_id WHERE $2::bigint >= 0 AND $4::bigint > 0`
	case NoStream:
		streamCTE = `INSERT INTO es_streams (stream_id, stream_type, version) VALUES ($1, $3, $2::bigint + $4)
			ON CONFLICT (stream_id) DO NOTHING RETURNING stream_id`
	default:
		streamCTE = `UPDATE es_streams SET version = version + $4, updated_at = now()
			WHERE stream_id = $1 AND version = $2 RETURNING stream_id`
	}
	return `
		WITH s AS (` + streamCTE + `)
		INSERT INTO es_events (event_id, stream_id, stream_type, stream_version, event_type, schema_version,
			data, actor, workspace_id, tenant_id, correlation_id, causation_id, recorded_at, hash)
		SELECT e.event_id, $1, $3, $2::bigint + e.ord, e.event_type, e.schema_version,
			e.data::json, e.actor, e.workspace_id, e.tenant_id, e.correlation_id, e.causation_id, e.recorded_at, e.hash
		FROM s, unnest($5::uuid[], $6::text[], $7::int[], $8::text[], $9::text[], $10::uuid[], $11::uuid[],
			$12::uuid[], $13::uuid[], $14::timestamptz[], $15::bytea[])
			WITH ORDINALITY AS e(event_id, event_type, schema_version, data, actor, workspace_id, tenant_id,
				correlation_id, causation_id, recorded_at, hash, ord)`
}

// prepare builds the envelopes (ids, versions, hashes) and the column arrays for the insert.
func (s *Store) prepare(stream StreamID, base int64, events []NewEvent) ([]Envelope, []any, error) {
	var c eventColumns
	c.grow(len(events))
	envs, err := s.prepareInto(&c, stream, base, events, recordTime(s.now()))
	if err != nil {
		return nil, nil, err
	}
	return envs, []any{string(stream), base, stream.Type(), int64(len(events)), c.ids, c.types, c.versions, c.datas,
		c.actors, c.wss, c.tenants, c.corrs, c.causes, c.times, c.hashes}, nil
}

// eventColumns are the column arrays of an events insert (unnest), one element an event.
type eventColumns struct {
	ids      []pgtype.UUID
	types    []string
	versions []int32
	datas    []string
	actors   []string
	wss      []pgtype.UUID
	tenants  []pgtype.UUID
	corrs    []pgtype.UUID
	causes   []pgtype.UUID
	times    []time.Time
	hashes   [][]byte
	buf      []byte
}

func (c *eventColumns) grow(n int) {
	c.ids = make([]pgtype.UUID, 0, n)
	c.types = make([]string, 0, n)
	c.versions = make([]int32, 0, n)
	c.datas = make([]string, 0, n)
	c.actors = make([]string, 0, n)
	c.wss = make([]pgtype.UUID, 0, n)
	c.tenants = make([]pgtype.UUID, 0, n)
	c.corrs = make([]pgtype.UUID, 0, n)
	c.causes = make([]pgtype.UUID, 0, n)
	c.times = make([]time.Time, 0, n)
	c.hashes = make([][]byte, 0, n)
}

// prepareInto builds the envelopes of events appended to stream after version base and
// adds their columns to c.
func (s *Store) prepareInto(c *eventColumns, stream StreamID, base int64, events []NewEvent, now time.Time) ([]Envelope, error) {
	envs := make([]Envelope, len(events))
	for i, ev := range events {
		if ev.Data == nil {
			return nil, errors.New("eventstore: event without data")
		}
		typ := ev.Data.EventType()
		sv, err := s.reg.SchemaVersion(typ)
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("eventstore: encode %s: %w", typ, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("eventstore: new event id: %w", err)
		}
		if ev.Metadata.Actor == "" {
			return nil, fmt.Errorf("eventstore: %s: metadata has no actor", typ)
		}
		env := Envelope{
			EventID:       id,
			StreamID:      stream,
			StreamType:    stream.Type(),
			StreamVersion: base + int64(i) + 1,
			Type:          typ,
			SchemaVersion: sv,
			Data:          ev.Data,
			RawData:       data,
			Metadata:      ev.Metadata,
			RecordedAt:    now,
		}
		env.Hash, c.buf = contentHash(c.buf, &env)
		envs[i] = env
		c.ids = append(c.ids, NullUUID(id))
		c.types = append(c.types, typ)
		c.versions = append(c.versions, int32(sv))
		c.datas = append(c.datas, string(data))
		c.actors = append(c.actors, ev.Metadata.Actor)
		c.wss = append(c.wss, NullUUID(ev.Metadata.WorkspaceID))
		c.tenants = append(c.tenants, NullUUID(ev.Metadata.TenantID))
		c.corrs = append(c.corrs, NullUUID(ev.Metadata.CorrelationID))
		c.causes = append(c.causes, NullUUID(ev.Metadata.CausationID))
		c.times = append(c.times, now)
		c.hashes = append(c.hashes, env.Hash)
	}
	return envs, nil
}

// Publisher returns a watermill-sql publisher that writes into tx, for modules that
// publish their own messages (e.g. dispatch jobs) in the same transaction as their events.
func (s *Store) Publisher(tx pgx.Tx) (*wsql.Publisher, error) {
	pub, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{SchemaAdapter: s.schema}, s.wmLogger)
	if err != nil {
		return nil, fmt.Errorf("eventstore: outbox publisher: %w", err)
	}
	return pub, nil
}

// NullUUID maps uuid.Nil to SQL NULL (a query argument of a nullable uuid column).
func NullUUID(id uuid.UUID) pgtype.UUID {
	return pgtype.UUID{Bytes: id, Valid: id != uuid.Nil}
}

// FromNullUUID maps SQL NULL to uuid.Nil (a scanned nullable uuid column).
func FromNullUUID(id pgtype.UUID) uuid.UUID {
	if !id.Valid {
		return uuid.Nil
	}
	return id.Bytes
}

// UUIDArray is ids as a query argument pgx encodes fast: pgx reflects over every
// element of a []uuid.UUID (about 2 ms for 1,000 ids, measured), while [][16]byte takes
// its binary path (0.2 ms). Pass it wherever a uuid[] parameter gets many ids.
func UUIDArray(ids []uuid.UUID) [][16]byte {
	out := make([][16]byte, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
