package eventstore

import (
	"context"
	"errors"
	"fmt"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
)

// Batch queues appends, outbox messages and a module's own statements, and sends them
// to PostgreSQL in one round trip inside the caller's transaction. A start-gate
// transaction that would take eight round trips one statement at a time takes one.
//
// Everything queued runs in order; a statement's effect (RowsAffected) is known after
// Send. Appends in a batch need a known expected version (NoStream or exact): an
// AnyVersion append must first read the version, which a batch cannot do.
type Batch struct {
	s     *Store
	b     pgx.Batch
	items []batchItem
}

type batchItem struct {
	exec   *ExecResult // a plain statement
	stream StreamID    // an append: the stream, its expected version and size
	expect int64
	n      int64
}

// ExecResult is the outcome of a statement queued with Batch.Exec, set by Send.
type ExecResult struct {
	// RowsAffected is the statement's row count.
	RowsAffected int64
}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s} }

// Exec queues a statement of the caller's own.
func (b *Batch) Exec(sql string, args ...any) *ExecResult {
	r := &ExecResult{}
	b.b.Queue(sql, args...)
	b.items = append(b.items, batchItem{exec: r})
	return r
}

// Append queues an append (and its outbox message) and returns the events as they
// will be stored. Send reports a *ConcurrencyError if the stream was not at
// expectedVersion; the caller then rolls the transaction back.
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
	b.b.Queue(appendSQL(expectedVersion), args...)
	b.items = append(b.items, batchItem{stream: stream, expect: expectedVersion, n: int64(len(events))})
	m, err := outboxMessage(ctx, envs)
	if err != nil {
		return AppendResult{}, err
	}
	if err := b.Publish(OutboxTopic, m); err != nil {
		return AppendResult{}, err
	}
	return AppendResult{Version: expectedVersion + int64(len(events)), Events: envs}, nil
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
	br := tx.SendBatch(ctx, &b.b)
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
	if conflictAt != nil {
		return conflict(ctx, tx, conflictAt.stream, conflictAt.expect)
	}
	return nil
}
