package operations

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// Admission order is log order. The sealer numbers committed events in the order of
// their transaction ids (eventstore/seal.go), and a transaction takes its id at its
// first write, not at its commit. A start's INSERT takes its id at the heap insert and
// only then checks the active-identity index; stalled between the two while an end of
// the same identity takes a later id, frees the identity and commits, the start then
// passes the index and is sealed before the end that let it in: the log would show two
// active runs with one identity (the soak's identity walk saw it, 2026-12-01).
//
// So a start and an end that concern the same identity or scope take a transaction-
// scoped advisory lock on it first, before anything in the transaction writes (an
// advisory lock assigns no transaction id): whoever is second waits for the first to
// commit and only then takes its id, so the later admission has the later id. Keys are
// hashed by the database (hashtextextended) and taken in hash order, so transactions
// taking several (a start with a scope, a batch of ends) never deadlock; a hash
// collision only makes two unrelated keys wait for each other.

// lockKeysSQL takes the advisory locks of the keys $1 (text[]) in hash order.
const lockKeysSQL = `SELECT pg_advisory_xact_lock(h) FROM (
	SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS t(k) ORDER BY h OFFSET 0) s`

// lockEndingSQL takes the advisory locks of the identities and scopes held by the
// runs $1 (uuid[]) that are still active, in hash order. It reads, never writes.
const lockEndingSQL = `SELECT pg_advisory_xact_lock(h) FROM (
	SELECT DISTINCT hashtextextended(k, 0) AS h FROM (
		SELECT identity_hash AS k FROM ops_runs WHERE run_id = ANY($1) AND status IN ('queued', 'running')
		UNION ALL
		SELECT scope_key FROM ops_scope_locks WHERE run_id = ANY($1)) ks
	ORDER BY h OFFSET 0) s`

// admissionKeys are the lock keys of a start: its identity and its scope, if any. A
// permanent identity (a nonce's, a schedule slot's) is never freed, so no end can come
// before its start: it needs no lock, and a start with nothing else to order takes none.
func (a *admission) admissionKeys() []string {
	var keys []string
	if !a.info.Identity.Permanent() {
		keys = append(keys, a.identity)
	}
	if sc := a.scope(); sc != "" {
		keys = append(keys, sc)
	}
	return keys
}

// lockEnding takes, in tx and before it writes anything, the locks of what ending the
// runs ids frees (see above). Every transaction that may end a run calls it before it
// locks the run's row.
func lockEnding(ctx context.Context, tx pgx.Tx, ids ...uuid.UUID) error {
	if _, err := tx.Exec(ctx, lockEndingSQL, eventstore.PlanEachTime, ids); err != nil {
		return fmt.Errorf("operations: lock the identities of %d ending runs: %w", len(ids), err)
	}
	return nil
}
