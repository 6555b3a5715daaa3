package operations

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore"
)

// OutboxDispatcher is the default dispatcher (tests that wrap it).
func OutboxDispatcher() Dispatcher { return outboxDispatcher{} }

// HoldKeys takes, in tx, the advisory locks the gate takes for a start of identity or
// scope keys (tests: a start or an end that is let in meanwhile waits for tx).
func HoldKeys(ctx context.Context, tx pgx.Tx, keys ...string) error {
	_, err := tx.Exec(ctx, lockKeysSQL, keys)
	return err
}

// EndStats reports how many run ends s wrote in batches of two or more and how many
// of its batched end transactions failed (tests).
func EndStats(s *Service) (batched, failed int64) {
	return s.ends.batched.Load(), s.ends.failed.Load()
}

// EndTogether ends the running runs ids completed, queued at once so that one batched
// end transaction takes them all; the run failing gets a decision that fails instead.
// It returns each end's error (tests).
func EndTogether(s *Service, ids []uuid.UUID, failing uuid.UUID) ([]error, error) {
	ends := make([]*pendingEnd, len(ids))
	for i, id := range ids {
		run, err := s.Load(context.Background(), id)
		if err != nil {
			return nil, err
		}
		ends[i] = &pendingEnd{id: id, known: run, done: make(chan struct{}), decide: func(agg *Run, row runRow) ([]eventstore.NewEvent, rowUpdate, error) {
			if id == failing {
				return nil, rowUpdate{}, errors.New("a planted failure")
			}
			return ending(agg, row, OutcomeSucceeded, RunCompleted{Outcome: OutcomeSucceeded, CompletedAt: s.now().UTC()}, systemMeta(agg, "test"))
		}}
	}
	s.endRuns(ends...)
	errs := make([]error, len(ends))
	for i, p := range ends {
		errs[i] = p.err
	}
	return errs, nil
}

// IdentityHash is the identity a start of req would take (tests that hold it first).
func IdentityHash(req StartRequest) string {
	info, _ := LookupType(req.Type)
	ctxJSON, err := normalizeContext(req.Context)
	if err != nil {
		panic(err)
	}
	return identityHash(info, req, ctxJSON)
}

// RememberTenantWorkspace makes s remember ws as tenant's workspace, as an authorized
// start of the tenant does (tests: a wrong one).
func RememberTenantWorkspace(s *Service, tenant, ws uuid.UUID) { s.tenantWorkspaces.Store(tenant, ws) }
