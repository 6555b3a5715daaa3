package eventstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// sealLockKey is the advisory lock that makes one sealer at a time.
const sealLockKey = 0x61746c6173_01 // "atlas" 1

// SealNotifyChannel is the LISTEN channel notified (payload: the new head position)
// whenever events are sealed, so readers can wake instead of polling.
const SealNotifyChannel = "atlas_sealed"

// Seal gives global positions and chain hashes to the events whose transactions have
// ended, in the order (transaction_id, seq), and returns how many it sealed. Only events
// of transactions older than pg_snapshot_xmin(pg_current_snapshot()) are sealed: every
// such transaction has committed or rolled back, so no event can later appear before
// them. One sealer runs at a time (an advisory lock); a concurrent call returns 0.
func (s *Store) Seal(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.sealBatchOnce(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n < s.sealBatch {
			return total, nil
		}
	}
}

func (s *Store) sealBatchOnce(ctx context.Context) (int, error) {
	sealed := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(sealLockKey)).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		var head int64
		var chain []byte
		var from string // xid8, as text
		if err := tx.QueryRow(ctx, `SELECT position, chain_hash, last_transaction_id::text FROM es_seal_head`).Scan(&head, &chain, &from); err != nil {
			return err
		}
		// The text form of the id gets a name of its own: named transaction_id, it would be
		// what ORDER BY sorts by (text, not xid8), and the scan could not follow the index.
		rows, err := tx.Query(ctx, `SELECT e.seq, e.hash, e.transaction_id::text AS xid, e.stream_id, e.stream_version FROM es_events e
			WHERE e.global_position IS NULL AND e.transaction_id >= $2::xid8 AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
			ORDER BY e.transaction_id, e.seq LIMIT $1`, s.sealBatch, from)
		if err != nil {
			return err
		}
		var batch []sealCandidate
		for rows.Next() {
			var c sealCandidate
			if err := rows.Scan(&c.seq, &c.hash, &c.xid, &c.stream, &c.version); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		last := batch[len(batch)-1].xid
		batch, held, err := holdBackGaps(ctx, tx, batch)
		if err != nil {
			return err
		}
		if held != "" {
			last = held // the held-back events stay unsealed: the scan must start at them
		}
		orderStreams(batch)
		var seqs, positions []int64
		var chains [][]byte
		for _, c := range batch {
			head++
			chain = chainHash(chain, head, c.hash)
			seqs = append(seqs, c.seq)
			positions = append(positions, head)
			chains = append(chains, chain)
		}
		if len(seqs) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE es_events e SET global_position = v.pos, chain_hash = v.chain
			FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS v(seq, pos, chain) WHERE e.seq = v.seq`,
			seqs, positions, chains); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE es_seal_head SET position = $1, chain_hash = $2, last_transaction_id = $3::xid8, sealed_at = now()`,
			head, chain, last); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, SealNotifyChannel, fmt.Sprint(head)); err != nil {
			return err
		}
		sealed = len(seqs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("eventstore: seal: %w", err)
	}
	return sealed, nil
}

// RunSealer seals continuously until ctx ends, polling every interval when idle.
// Every `atlas serve` and `atlas worker` runs one; the advisory lock keeps them from
// sealing at the same time.
func (s *Store) RunSealer(ctx context.Context, interval time.Duration) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := s.Seal(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("seal failed", "error", err)
		}
		if n > 0 {
			t.Reset(0)
		} else {
			t.Reset(interval)
		}
	}
}

// SealCommitted seals every event committed before the call, waiting (polling) while
// an older transaction anywhere on the server still holds the seal horizon back, until
// ctx ends. Readers that must see "everything up to now" (audit replay and export, the
// hash-chain walk) call it first.
func (s *Store) SealCommitted(ctx context.Context) error {
	var horizon string // xid8: every transaction committed before now is below it
	if err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text`).Scan(&horizon); err != nil {
		return fmt.Errorf("eventstore: seal committed: %w", err)
	}
	for wait := time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		if _, err := s.Seal(ctx); err != nil {
			return err
		}
		var left bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM es_events WHERE global_position IS NULL
			AND transaction_id < $1::xid8)`, horizon).Scan(&left); err != nil {
			return fmt.Errorf("eventstore: seal committed: %w", err)
		}
		if !left {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("eventstore: seal committed: an older transaction kept the log from being sealed: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// Head returns the last sealed global position.
func (s *Store) Head(ctx context.Context) (int64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, `SELECT position FROM es_seal_head`).Scan(&head); err != nil {
		return 0, fmt.Errorf("eventstore: head: %w", err)
	}
	return head, nil
}

// sealCandidate is an unsealed event the sealer may give a position.
type sealCandidate struct {
	seq     int64
	hash    []byte
	xid     string // transaction_id (xid8) as text
	stream  string
	version int64
}

// holdBackGaps removes from batch every event of a stream that still has an unsealed
// event of a lower version outside the batch: transaction ids do not follow commit
// order, so a transaction that took its id early can append version 6 of a stream
// after a later-numbered one appended version 5 and committed. Version 6 waits until
// version 5 is sealed. It returns the smallest transaction id held back ("" if none).
func holdBackGaps(ctx context.Context, tx pgx.Tx, batch []sealCandidate) ([]sealCandidate, string, error) {
	type span struct{ lo, hi, n int64 }
	spans := map[string]*span{}
	for _, c := range batch {
		sp := spans[c.stream]
		if sp == nil {
			spans[c.stream] = &span{lo: c.version, hi: c.version, n: 1}
			continue
		}
		sp.lo, sp.hi, sp.n = min(sp.lo, c.version), max(sp.hi, c.version), sp.n+1
	}
	wait := map[string]bool{}
	streams := make([]string, 0, len(spans))
	lows := make([]int64, 0, len(spans))
	for st, sp := range spans {
		if sp.hi-sp.lo+1 != sp.n {
			wait[st] = true // a version between the batch's own is unsealed elsewhere
			continue
		}
		streams, lows = append(streams, st), append(lows, sp.lo)
	}
	// Below a stream's lowest version in the batch, nothing may be left unsealed.
	// COALESCE(global_position, 0) = 0 is "unsealed" (positions start at 1) in a form the
	// unsealed partial index cannot serve: its statistics say it is tiny, but it holds
	// the entries of every sealed event until VACUUM, so the planner must look streams
	// up by (stream_id, stream_version) instead.
	rows, err := tx.Query(ctx, `SELECT b.stream_id FROM unnest($1::text[], $2::bigint[]) AS b(stream_id, low)
		WHERE EXISTS (SELECT 1 FROM es_events e WHERE e.stream_id = b.stream_id AND e.stream_version < b.low
			AND COALESCE(e.global_position, 0) = 0)`, streams, lows)
	if err != nil {
		return nil, "", err
	}
	gapped, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, "", err
	}
	for _, st := range gapped {
		wait[st] = true
	}
	if len(wait) == 0 {
		return batch, "", nil
	}
	kept := batch[:0:0]
	held := ""
	for _, c := range batch {
		if !wait[c.stream] {
			kept = append(kept, c)
		} else if held == "" {
			held = c.xid // batch is in transaction order: the first one held is the smallest
		}
	}
	return kept, held, nil
}

// orderStreams puts each stream's events of the batch in version order, in the slots
// the (transaction, seq) order gave that stream: a stream's events are sealed in the
// order they were appended, whatever their transactions' ids.
func orderStreams(batch []sealCandidate) {
	slots := map[string][]int{}
	for i, c := range batch {
		slots[c.stream] = append(slots[c.stream], i)
	}
	for _, idx := range slots {
		if len(idx) < 2 {
			continue
		}
		evs := make([]sealCandidate, len(idx))
		for j, i := range idx {
			evs[j] = batch[i]
		}
		slices.SortStableFunc(evs, func(a, b sealCandidate) int { return cmp.Compare(a.version, b.version) })
		for j, i := range idx {
			batch[i] = evs[j]
		}
	}
}
