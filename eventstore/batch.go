package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Batch queues appends, outbox messages and a module's own statements, and sends them
// to PostgreSQL together: inside the caller's transaction (Send), or as a whole
// transaction of its own in a single round trip (Commit). A start-gate transaction
// that would take eight round trips one statement at a time takes one.
//
// Everything queued runs in order; a statement's effect (RowsAffected) is known after
// sending. Appends in a batch need a known expected version (NoStream or exact): an
// AnyVersion append must first read the version, which a batch cannot do.
type Batch struct {
	s     *Store
	items []batchItem
}

type batchItem struct {
	sql    string
	args   []any
	exec   *ExecResult // a plain statement
	append bool        // an append: the stream, its expected version and size
	stream StreamID
	expect int64
	n      int64
	// each: the streams and expected versions of an AppendEach (n is its events), and
	// the id of each one's first event.
	each      []StreamAppend
	eachFirst []uuid.UUID
}

// ExecResult is the outcome of a statement queued with Batch.Exec, set when sent.
type ExecResult struct {
	// RowsAffected is the statement's row count.
	RowsAffected int64
}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// Exec queues a statement of the caller's own.
func (b *Batch) Exec(sql string, args ...any) *ExecResult {
	r := &ExecResult{}
	b.items = append(b.items, batchItem{sql: sql, args: args, exec: r})
	return r
}

// Append queues an append and returns the events as they will be stored.
func (b *Batch) Append(ctx context.Context, stream StreamID, expectedVersion int64, events ...NewEvent) (AppendResult, error) {
	if err := checkAppend(stream, expectedVersion, events); err != nil {
		return AppendResult{}, err
	}
	if expectedVersion == AnyVersion {
		return AppendResult{}, errors.New("eventstore: a batched append needs NoStream or an exact expected version")
	}
	envs, args, err := b.s.prepare(stream, expectedVersion, events)
	if err != nil {
		return AppendResult{}, err
	}
	b.items = append(b.items, batchItem{args: args, append: true, stream: stream, expect: expectedVersion, n: int64(len(events))})
	return AppendResult{Version: expectedVersion + int64(len(events)), Events: envs}, nil
}

// NewStream is a stream to create with its first events (AppendNew).
type NewStream struct {
	Stream StreamID
	Events []NewEvent
}

// AppendNew queues the creation of many new streams with their events as one
// statement, each stream as an Append with NoStream would write it (versions from 1, the
// events in the order given, streams after one another). It is for writers that make
// many streams at once (the start gate's group commit): one statement instead of one
// per stream. A stream that exists already fails the statement (a unique violation of
// es_streams_pkey), and with it the transaction: nothing of it is half written.
func (b *Batch) AppendNew(ctx context.Context, streams ...NewStream) ([]AppendResult, error) {
	if len(streams) == 0 {
		return nil, nil
	}
	appends := make([]StreamAppend, len(streams))
	for i, st := range streams {
		appends[i] = StreamAppend{Stream: st.Stream, Expected: NoStream, Events: st.Events}
	}
	m, err := b.s.prepareMany(appends)
	if err != nil {
		return nil, err
	}
	b.Exec(appendNewSQL, append([]any{m.streamIDs, m.streamTypes, m.sizes}, m.events...)...)
	return m.res, nil
}

// PreferIndexes queues, first in a batch sent in the caller's transaction (Send), that
// the rest of the transaction plans no sequential scan where an index serves
// (enable_seqscan off, for this transaction only). It is for a batch whose statements
// join a few keys in arrays to tables that grow from empty (AppendEach's streams, a
// batch update of runs by id): prepared once per connection, such a join kept the plan
// made while the table was nearly empty, a hash join over all of es_streams (and
// ops_runs) for every batch, and without autovacuum's ANALYZE nothing replans it. Made
// under this setting, the plan looks each key up in the primary key, and stays so: these
// statements run nowhere else. Cheaper than planning them at every execution
// (PlanEachTime): that cost the end to end 5%.
func (b *Batch) PreferIndexes() {
	b.Exec(`SELECT set_config('enable_seqscan', 'off', true)`)
}

// StreamAppend is an append to one stream at an exact expected version (AppendEach).
type StreamAppend struct {
	Stream   StreamID
	Expected int64
	Events   []NewEvent
}

// AppendEach queues appends to many existing streams, each at its exact expected
// version, as one statement: what an Append of each would write, for writers that change
// many streams in one transaction (the workers' batched claims and ends). A stream named
// twice, or not at an exact version (NoStream, AnyVersion), is refused here. A stream
// that is not at its expected version fails the batch with a *ConcurrencyError (the
// statement then wrote the other streams' events: the caller's transaction must roll
// back, as after any error of Send).
func (b *Batch) AppendEach(ctx context.Context, appends ...StreamAppend) ([]AppendResult, error) {
	if len(appends) == 0 {
		return nil, nil
	}
	seen := make(map[StreamID]bool, len(appends))
	for _, a := range appends {
		if a.Expected < 1 {
			return nil, fmt.Errorf("eventstore: AppendEach takes exact versions of existing streams, not %d", a.Expected)
		}
		if seen[a.Stream] {
			return nil, fmt.Errorf("eventstore: AppendEach names stream %s twice", a.Stream)
		}
		seen[a.Stream] = true
	}
	m, err := b.s.prepareMany(appends)
	if err != nil {
		return nil, err
	}
	n, first := int64(0), make([]uuid.UUID, len(m.res))
	for i, r := range m.res {
		n += int64(len(r.Events))
		first[i] = r.Events[0].EventID
	}
	args := append([]any{m.streamIDs, m.bases, m.sizes}, m.events...)
	b.items = append(b.items, batchItem{sql: appendEachSQL, args: args, n: n, each: appends, eachFirst: first})
	return m.res, nil
}

// manyStreams is what prepareMany builds: per stream its id, type, expected version (0
// for a new one) and size, the events' columns (insertEventsSQL's 14 arrays) and the
// envelopes as they will be stored.
type manyStreams struct {
	streamIDs, streamTypes []string
	bases, sizes           []int64
	events                 []any
	res                    []AppendResult
}

// prepareMany builds the envelopes of appends (each stream's from its expected version
// on, NoStream counting as 0) and the columns of appendNewSQL and appendEachSQL.
func (s *Store) prepareMany(appends []StreamAppend) (manyStreams, error) {
	var c eventColumns
	n := 0
	for _, a := range appends {
		n += len(a.Events)
	}
	c.grow(n)
	var (
		streamIDs   = make([]string, len(appends))
		streamTypes = make([]string, len(appends))
		sizes       = make([]int64, len(appends))
		bases       = make([]int64, len(appends))
		evStreams   = make([]string, 0, n)
		evTypes     = make([]string, 0, n)
		evVersions  = make([]int64, 0, n)
		res         = make([]AppendResult, len(appends))
		now         = recordTime(s.now())
	)
	for i, a := range appends {
		if err := checkAppend(a.Stream, a.Expected, a.Events); err != nil {
			return manyStreams{}, err
		}
		base := max(a.Expected, 0)
		envs, err := s.prepareInto(&c, a.Stream, base, a.Events, now)
		if err != nil {
			return manyStreams{}, err
		}
		streamIDs[i], streamTypes[i], sizes[i], bases[i] = string(a.Stream), a.Stream.Type(), int64(len(envs)), base
		for _, e := range envs {
			evStreams = append(evStreams, string(e.StreamID))
			evTypes = append(evTypes, e.StreamType)
			evVersions = append(evVersions, e.StreamVersion)
		}
		res[i] = AppendResult{Version: base + int64(len(envs)), Events: envs}
	}
	return manyStreams{streamIDs: streamIDs, streamTypes: streamTypes, bases: bases, sizes: sizes, res: res,
		events: []any{evStreams, evTypes, evVersions,
			c.ids, c.types, c.versions, c.datas, c.actors, c.wss, c.tenants, c.corrs, c.causes, c.times, c.hashes}}, nil
}

// appendNewSQL creates the streams (no ON CONFLICT: one that exists fails it all) and
// inserts the events in the order given (ORDER BY the ordinality, so seq follows it).
var appendNewSQL = `
	WITH s AS (
		INSERT INTO es_streams (stream_id, stream_type, version)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
	)` + insertEventsSQL(4, "")

// appendEachSQL moves each stream $1 from its expected version $2 on by $3 events (an
// exact, conditional update) and inserts the events of the streams it moved, in the
// order given. The events of a stream not at its version are not inserted: the row
// count then falls short of the events, and Send answers a *ConcurrencyError.
var appendEachSQL = `
	WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(stream_id, expected, n)),
	s AS (
		UPDATE es_streams t SET version = t.version + v.n, updated_at = now() FROM v
		WHERE t.stream_id = v.stream_id AND t.version = v.expected RETURNING t.stream_id
	)` + insertEventsSQL(4, "WHERE e.stream_id IN (SELECT stream_id FROM s)")

// insertEventsSQL is the events' INSERT of appendNewSQL and appendEachSQL: the 14 event
// columns from the parameters $first on (prepareMany's order), filtered by where, in the
// order given.
func insertEventsSQL(first int, where string) string {
	cols := []string{"text", "text", "bigint", "uuid", "text", "int", "text", "text", "uuid", "uuid", "uuid", "uuid", "timestamptz", "bytea"}
	params := make([]string, len(cols))
	for i, c := range cols {
		params[i] = fmt.Sprintf("$%d::%s[]", first+i, c)
	}
	return `
	INSERT INTO es_events (event_id, stream_id, stream_type, stream_version, event_type, schema_version,
		data, actor, workspace_id, tenant_id, correlation_id, causation_id, recorded_at, hash)
	SELECT e.event_id, e.stream_id, e.stream_type, e.stream_version, e.event_type, e.schema_version,
		e.data::json, e.actor, e.workspace_id, e.tenant_id, e.correlation_id, e.causation_id, e.recorded_at, e.hash
	FROM unnest(` + strings.Join(params, ", ") + `)
		WITH ORDINALITY AS e(stream_id, stream_type, stream_version, event_id, event_type, schema_version, data, actor,
			workspace_id, tenant_id, correlation_id, causation_id, recorded_at, hash, ord)
	` + where + `
	ORDER BY e.ord`
}

// conflictEach is the *ConcurrencyError of an AppendEach whose row count fell short: the
// first of its streams whose first event was not written (the statement did not move
// it, so its version is the one it had).
func conflictEach(ctx context.Context, tx pgx.Tx, it *batchItem) error {
	rows, err := tx.Query(ctx, `SELECT event_id FROM es_events WHERE event_id = ANY($1)`, UUIDArray(it.eachFirst))
	if err != nil {
		return fmt.Errorf("eventstore: append: read back: %w", err)
	}
	written, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("eventstore: append: read back: %w", err)
	}
	for i, a := range it.each {
		if !slices.Contains(written, it.eachFirst[i]) {
			return conflictVersion(ctx, tx, a.Stream, a.Expected)
		}
	}
	return errors.New("eventstore: append: fewer events written than sent, each stream's first one written")
}

// Include queues everything queued on other after what b holds (other is left as is),
// so a writer can prepare parts of a batch on their own and keep only some of them.
func (b *Batch) Include(other *Batch) {
	b.items = append(b.items, other.items...)
}

// Publish queues watermill messages for topic, in the layout of watermill-sql's
// PostgreSQL schema (the same INSERT its publisher runs).
func (b *Batch) Publish(topic string, msgs ...*message.Message) error {
	q, err := b.s.schema.InsertQuery(wsql.InsertQueryParams{Topic: topic, Msgs: msgs})
	if err != nil {
		return fmt.Errorf("eventstore: outbox query for %s: %w", topic, err)
	}
	b.Exec(q.Query, q.Args...)
	return nil
}

// Send runs everything queued, in order, in tx. The first failing statement's error
// is returned (the transaction is then aborted); an append whose stream was not at
// the expected version returns a *ConcurrencyError.
func (b *Batch) Send(ctx context.Context, tx pgx.Tx) error {
	if len(b.items) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, it := range b.items {
		if it.append {
			batch.Queue(appendSQL(it.expect), it.args...)
		} else {
			batch.Queue(it.sql, it.args...)
		}
	}
	br := tx.SendBatch(ctx, batch)
	var conflictAt *batchItem
	for i := range b.items {
		it := &b.items[i]
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("eventstore: batch statement %d of %d: %w", i+1, len(b.items), err)
		}
		switch {
		case it.exec != nil:
			it.exec.RowsAffected = tag.RowsAffected()
		case tag.RowsAffected() != it.n && conflictAt == nil:
			conflictAt = it
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("eventstore: batch: %w", err)
	}
	switch {
	case conflictAt == nil:
		return nil
	case conflictAt.each != nil:
		return conflictEach(ctx, tx, conflictAt)
	default:
		return conflictVersion(ctx, tx, conflictAt.stream, conflictAt.expect)
	}
}

// Commit runs the batch as a transaction of its own on conn in one round trip:
// BEGIN, every statement, COMMIT. Nothing can be decided between the statements, so
// each must fail on its own when the transaction must not commit: a unique violation
// (say, of a dedupe index) is the usual way, and the caller reads it from the returned
// error (errors.As a *pgconn.PgError). Appends must be NoStream: a stream that exists
// already fails the batch with a *ConcurrencyError. On any error the transaction is
// rolled back.
func (b *Batch) Commit(ctx context.Context, conn *pgx.Conn) (err error) {
	return b.commit(ctx, conn, true)
}

// CommitOpen is Commit in the transaction already open on conn (begun with a plain
// BEGIN by the caller, who read what it needed in it): everything queued, then COMMIT,
// in one round trip. On any error the transaction is rolled back.
func (b *Batch) CommitOpen(ctx context.Context, conn *pgx.Conn) error {
	return b.commit(ctx, conn, false)
}

func (b *Batch) commit(ctx context.Context, conn *pgx.Conn, begin bool) (err error) {
	batch := &pgx.Batch{}
	if begin {
		batch.Queue("BEGIN")
	}
	for _, it := range b.items {
		switch {
		case it.append && it.expect != NoStream, it.each != nil:
			return errors.New("eventstore: Batch.Commit takes NoStream appends only (AppendEach: Send, in a transaction)")
		case it.append:
			batch.Queue(strictNewStreamSQL, it.args...)
		default:
			batch.Queue(it.sql, it.args...)
		}
	}
	batch.Queue("COMMIT")
	br := conn.SendBatch(ctx, batch)
	var failed error
	var failedItem *batchItem
	if begin {
		if _, err := br.Exec(); err != nil {
			failed = err
		}
	}
	for i := range b.items {
		if failed != nil {
			break
		}
		it := &b.items[i]
		tag, err := br.Exec()
		if err != nil {
			failed, failedItem = err, it
			break
		}
		if it.exec != nil {
			it.exec.RowsAffected = tag.RowsAffected()
		}
	}
	if failed == nil {
		if _, err := br.Exec(); err != nil {
			failed = err
		}
	}
	closeErr := br.Close()
	if failed == nil && closeErr == nil {
		b.s.WakeSealer()
		return nil
	}
	if failed == nil {
		failed = closeErr
	}
	// The transaction block is aborted (or still open): end it. A connection that
	// cannot is not idle and is closed by the pool on release.
	_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	var pgErr *pgconn.PgError
	if failedItem != nil && failedItem.append && errors.As(failed, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "es_streams_pkey" {
		return conflictVersion(ctx, conn, failedItem.stream, NoStream)
	}
	return fmt.Errorf("eventstore: batch: %w", failed)
}

// strictNewStreamSQL appends to a new stream and fails (unique violation on
// es_streams_pkey) if it exists, so a one-round-trip batch cannot commit half of it.
var strictNewStreamSQL = strings.Replace(appendSQL(NoStream), "ON CONFLICT (stream_id) DO NOTHING ", "", 1)
