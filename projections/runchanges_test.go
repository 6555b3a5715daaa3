package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// changeLog collects what a RunChanges listener reports.
type changeLog struct {
	mu       sync.Mutex
	connects int
	batches  [][]uuid.UUID
}

func (c *changeLog) changed(ids []uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids == nil {
		c.connects++
		return
	}
	c.batches = append(c.batches, ids)
}

// seen is every id reported so far, and the number of notifications.
func (c *changeLog) seen() (map[uuid.UUID]bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[uuid.UUID]bool{}
	for _, b := range c.batches {
		for _, id := range b {
			ids[id] = true
		}
	}
	return ids, len(c.batches)
}

func (c *changeLog) connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connects
}

// TestRunChangesNotifiedAtCommit: the hub_runs projection notifies every run a batch
// touches (250 runs: more than one notification's payload holds), a rebuild into the
// shadow copy notifies nothing, and a listener whose connection is killed reconnects,
// says so (changed(nil): reload everything) and goes on receiving.
func TestRunChangesNotifiedAtCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var log changeLog
	listener := projections.NewRunChanges(w.pool, nil)
	var wg sync.WaitGroup
	wg.Go(func() { _ = listener.Listen(ctx, log.changed) })
	defer func() { cancel(); wg.Wait() }()
	require.Eventually(t, func() bool { return log.connections() == 1 }, 10*time.Second, 10*time.Millisecond)

	op := w.seed.Users["operator"]
	start := func(i int) uuid.UUID {
		out, err := w.app.Operations.Start(w.ctx, operations.StartRequest{Type: "drift.generate", TenantID: w.seed.Tenants[i%3].ID,
			Context: []byte(fmt.Sprintf(`{"baseline":"n%d"}`, i)), Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}})
		require.NoError(t, err)
		return out.Run.ID
	}
	var ids []uuid.UUID
	for i := range 250 {
		ids = append(ids, start(i))
	}
	runner := projections.NewRunner(w.pool, w.app.Store, projections.Options{BatchSize: 10000})
	catchUpAll := func() {
		t.Helper()
		require.Eventually(t, func() bool {
			_, err := runner.CatchUp(w.ctx, projections.HubRuns{})
			require.NoError(t, err)
			head, err := w.app.Store.Head(w.ctx)
			require.NoError(t, err)
			pos, err := runner.Checkpoint(w.ctx, projections.HubRuns{})
			require.NoError(t, err)
			var unsealed int
			require.NoError(t, w.pool.QueryRow(w.ctx, `SELECT count(*) FROM es_events WHERE global_position IS NULL`).Scan(&unsealed))
			return unsealed == 0 && pos == head
		}, 30*time.Second, 20*time.Millisecond)
	}
	catchUpAll()
	require.Eventually(t, func() bool {
		seen, _ := log.seen()
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every run the projection applied is notified")
	_, notifications := log.seen()
	require.GreaterOrEqual(t, notifications, 2, "250 ids do not fit one payload")

	// A rebuild fills the shadow copy: nothing anyone sees changed, nothing is notified.
	// Notifications arrive in commit order, so the next one is the next live change's.
	log.mu.Lock()
	log.batches = nil
	log.mu.Unlock()
	_, err := runner.Rebuild(w.ctx, projections.HubRuns{}, nil)
	require.NoError(t, err)
	next := start(1000)
	catchUpAll()
	require.Eventually(t, func() bool { _, n := log.seen(); return n > 0 }, 10*time.Second, 10*time.Millisecond)
	log.mu.Lock()
	first := log.batches[0]
	log.mu.Unlock()
	require.Equal(t, []uuid.UUID{next}, first, "the rebuild notified nothing")

	// The listener's connection dies: it reconnects, reports it, and keeps listening.
	_, err = w.pool.Exec(w.ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = $1`, "LISTEN "+projections.RunChangedChannel)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return log.connections() == 2 }, 15*time.Second, 10*time.Millisecond)
	again := start(1001)
	catchUpAll()
	require.Eventually(t, func() bool { seen, _ := log.seen(); return seen[again] }, 10*time.Second, 10*time.Millisecond)
}
