package eventstore

import (
	"context"
	"fmt"
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
		rows, err := tx.Query(ctx, `SELECT seq, hash, transaction_id::text FROM es_events
			WHERE global_position IS NULL AND transaction_id >= $2::xid8 AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
			ORDER BY transaction_id, seq LIMIT $1`, s.sealBatch, from)
		if err != nil {
			return err
		}
		var seqs, positions []int64
		var chains [][]byte
		last := from
		for rows.Next() {
			var seq int64
			var h []byte
			if err := rows.Scan(&seq, &h, &last); err != nil {
				rows.Close()
				return err
			}
			head++
			chain = chainHash(chain, head, h)
			seqs = append(seqs, seq)
			positions = append(positions, head)
			chains = append(chains, chain)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
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

// Head returns the last sealed global position.
func (s *Store) Head(ctx context.Context) (int64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, `SELECT position FROM es_seal_head`).Scan(&head); err != nil {
		return 0, fmt.Errorf("eventstore: head: %w", err)
	}
	return head, nil
}
