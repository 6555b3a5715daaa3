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
//
// In one process, seals take turns, and callers that arrive while one runs share the
// next: a caller waits for its turn, and if a seal started after the caller arrived
// (and so saw every commit the caller could see) has run meanwhile, it returns what
// that seal did instead of sealing again. Every projection runner calls Seal when it
// reads a short page (ReadAll); without the turn, eight runners ran eight candidate
// scans for one burst of commits.
func (s *Store) Seal(ctx context.Context) (int, error) {
	s.sealMu.Lock()
	arrived, sealedBefore := s.sealsStarted, s.sealedTotal
	s.sealCallers++
	s.sealMu.Unlock()
	defer func() {
		s.sealMu.Lock()
		s.sealCallers--
		s.sealMu.Unlock()
	}()
	select {
	case s.sealTurn <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-s.sealTurn }()
	s.sealMu.Lock()
	if s.sealsStarted > arrived {
		n := int(s.sealedTotal - sealedBefore)
		s.sealMu.Unlock()
		return n, nil
	}
	s.sealsStarted++
	s.sealMu.Unlock()
	n, err := s.sealAll(ctx)
	s.sealMu.Lock()
	s.sealedTotal += int64(n)
	s.sealMu.Unlock()
	return n, err
}

// sealAll seals batch after batch until one is not full.
func (s *Store) sealAll(ctx context.Context) (int, error) {
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

// sealCandidatesSQL selects the next events to seal (from the head's transaction id
// up to the seal horizon, in (transaction_id, seq) order, at most $1) and, per event,
// whether its stream has an unsealed event below the stream's lowest version in the
// batch (gapped: see holdBackGaps). One statement, so one snapshot: a stream's lower
// version, committed before a higher one could be appended, is visible with it.
//
// The text form of the id gets a name of its own (xid): named transaction_id, it would
// be what ORDER BY sorts by (text, not xid8), and the scan could not follow the index.
// COALESCE(global_position, 0) = 0 is "unsealed" (positions start at 1) in a form the
// unsealed partial index cannot serve: its statistics say it is tiny, but it holds the
// entries of every sealed event until VACUUM, so the planner must look streams up by
// (stream_id, stream_version) instead.
const sealCandidatesSQL = `WITH c AS (
		SELECT e.seq, e.hash, e.transaction_id, e.stream_id, e.stream_version FROM es_events e
		WHERE e.global_position IS NULL AND e.transaction_id >= (SELECT last_transaction_id FROM es_seal_head)
			AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.transaction_id, e.seq LIMIT $1),
	low AS (SELECT stream_id, min(stream_version) AS low FROM c GROUP BY stream_id),
	gapped AS (SELECT l.stream_id FROM low l WHERE EXISTS (SELECT 1 FROM es_events u
		WHERE u.stream_id = l.stream_id AND u.stream_version < l.low AND COALESCE(u.global_position, 0) = 0))
	SELECT c.seq, c.hash, c.transaction_id::text AS xid, c.stream_id, c.stream_version,
		EXISTS (SELECT 1 FROM gapped g WHERE g.stream_id = c.stream_id) AS gapped
	FROM c ORDER BY c.transaction_id, c.seq`

// sealBatchOnce seals one batch in two round trips: BEGIN, the advisory lock, then the
// head and the candidates in one pipeline; then the positions, the head, the
// notification and COMMIT in another (an empty batch or a lock held elsewhere ends
// with a COMMIT of its own). The sealer runs after every burst of appends, and ReadAll
// calls it too, so its round trips are on the path from commit to projection.
func (s *Store) sealBatchOnce(ctx context.Context) (int, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("eventstore: seal: %w", err)
	}
	defer pc.Release()
	conn := pc.Conn()
	sealed, err := s.sealOn(ctx, conn)
	if err != nil {
		// The transaction block is aborted or still open: end it. A connection that
		// cannot is not idle and is closed by the pool on release.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return 0, fmt.Errorf("eventstore: seal: %w", err)
	}
	return sealed, nil
}

func (s *Store) sealOn(ctx context.Context, conn *pgx.Conn) (int, error) {
	read := &pgx.Batch{}
	read.Queue("BEGIN")
	// The lock and the head are two statements: under READ COMMITTED a statement's
	// snapshot is taken when it starts, so a head read in the statement that takes the
	// lock could predate the commit of the sealer that held the lock just before
	// (positions given twice, refused by the unique index). Read after the lock, the
	// head is the previous sealer's.
	read.Queue(`SELECT pg_try_advisory_xact_lock($1)`, int64(sealLockKey))
	read.Queue(`SELECT position, chain_hash FROM es_seal_head`)
	read.Queue(sealCandidatesSQL, s.sealBatch)
	br := conn.SendBatch(ctx, read)
	var locked bool
	var head int64
	var chain []byte
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return 0, err
	}
	if err := br.QueryRow().Scan(&locked); err != nil {
		_ = br.Close()
		return 0, err
	}
	if err := br.QueryRow().Scan(&head, &chain); err != nil {
		_ = br.Close()
		return 0, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return 0, err
	}
	var batch []sealCandidate
	wait := map[string]bool{}
	for rows.Next() {
		var c sealCandidate
		var gapped bool
		if err := rows.Scan(&c.seq, &c.hash, &c.xid, &c.stream, &c.version, &gapped); err != nil {
			rows.Close()
			_ = br.Close()
			return 0, err
		}
		if gapped {
			wait[c.stream] = true
		}
		batch = append(batch, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		_ = br.Close()
		return 0, err
	}
	if err := br.Close(); err != nil {
		return 0, err
	}
	if !locked || len(batch) == 0 {
		_, err := conn.Exec(ctx, "COMMIT")
		return 0, err
	}
	last := batch[len(batch)-1].xid
	batch, held := holdBackGaps(batch, wait)
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
		_, err := conn.Exec(ctx, "COMMIT")
		return 0, err
	}
	write := &pgx.Batch{}
	write.Queue(`UPDATE es_events e SET global_position = v.pos, chain_hash = v.chain
		FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS v(seq, pos, chain) WHERE e.seq = v.seq`,
		seqs, positions, chains)
	write.Queue(`UPDATE es_seal_head SET position = $1, chain_hash = $2, last_transaction_id = $3::xid8, sealed_at = now()`,
		head, chain, last)
	write.Queue(`SELECT pg_notify($1, $2)`, SealNotifyChannel, fmt.Sprint(head))
	write.Queue("COMMIT")
	if err := conn.SendBatch(ctx, write).Close(); err != nil {
		return 0, err
	}
	return len(seqs), nil
}

// RunSealer seals continuously until ctx ends: at once when woken (WakeSealer: an
// append of this process committed), else every interval when idle. Every `atlas
// serve` and `atlas worker` runs one; the advisory lock keeps them from sealing at the
// same time. Wake-ups that come while a seal runs are one: the next seal takes them all.
func (s *Store) RunSealer(ctx context.Context, interval time.Duration) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.sealWake:
		}
		n, err := s.Seal(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("seal failed", "error", err)
		}
		if !t.Stop() {
			select { // drain a fired timer so Reset starts afresh
			case <-t.C:
			default:
			}
		}
		if n > 0 {
			t.Reset(0)
		} else {
			t.Reset(interval)
		}
	}
}

// WakeSealer tells this process's RunSealer that events were committed: it seals now
// instead of at its next idle tick. It never blocks. Writers call it after their
// commit (Append, Batch.Commit); one that appends inside a transaction of its own
// (AppendTx) calls it once that commits.
func (s *Store) WakeSealer() {
	select {
	case s.sealWake <- struct{}{}:
	default:
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
			AND transaction_id >= (SELECT last_transaction_id FROM es_seal_head) AND transaction_id < $1::xid8)`, horizon).Scan(&left); err != nil {
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

// Unsealed counts the events not sealed yet (committed ones, and those of transactions
// still open that this snapshot sees: none). It starts at the last transaction sealed,
// as the sealer does: a plain count walks the unsealed index's entries of every event
// sealed since the last VACUUM (20 ms at 100,000 events, 67 ms a little later, sampled
// ten times a second by `bench lag`).
func (s *Store) Unsealed(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM es_events WHERE global_position IS NULL
		AND transaction_id >= (SELECT last_transaction_id FROM es_seal_head)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("eventstore: unsealed: %w", err)
	}
	return n, nil
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
// version 5 is sealed. wait holds the streams with an unsealed version below their
// lowest one in the batch (sealCandidatesSQL's gapped); a stream whose versions in the
// batch are not contiguous waits too. It returns the smallest transaction id held back
// ("" if none).
func holdBackGaps(batch []sealCandidate, wait map[string]bool) ([]sealCandidate, string) {
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
	for st, sp := range spans {
		if sp.hi-sp.lo+1 != sp.n {
			wait[st] = true // a version between the batch's own is unsealed elsewhere
		}
	}
	if len(wait) == 0 {
		return batch, ""
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
	return kept, held
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
