package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of scope_counts: its Apply (apply.sql) and its readers (readers.sql, with
// the timeline's reader).
var (
	sqlScopeCountsLoadStates  = sqlQueries.Table("ScopeCountsLoadStates")
	sqlScopeCountsMove        = sqlQueries.Table("ScopeCountsMove")
	sqlScopeCountsSaveState   = sqlQueries.Table("ScopeCountsSaveState")
	sqlScopeCountsDeleteEmpty = sqlQueries.Table("ScopeCountsDeleteEmpty")
	sqlScopeCounts            = sqlQueries.Get("ScopeCounts")
	sqlTimeline               = sqlQueries.Get("Timeline")
)

// ScopeCounts counts runs per tenant (or workspace, for workspace-scoped runs) and
// status bucket, for dashboards and the list pages' bucket tabs.
type ScopeCounts struct{}

// Name implements Projection.
func (ScopeCounts) Name() string { return "scope_counts" }

// Version implements Projection.
func (ScopeCounts) Version() int { return 1 }

// Tables implements Projection.
func (ScopeCounts) Tables() []Table {
	return []Table{{Name: "rm_scope_counts_v1", View: "rm_scope_counts"}, {Name: "rm_scope_counts_runs_v1", View: "rm_scope_counts_runs"}}
}

// runState is the little of a run the counts need.
type runState struct {
	Status  operations.Status  `json:"s"`
	Outcome operations.Outcome `json:"o"`
	Counts  operations.Counts  `json:"c,omitempty"`
}

// Apply implements Projection: it folds the batch's events per run (with the run
// aggregate), then moves each run whose bucket changed from the old bucket's count to
// the new one's.
func (p ScopeCounts) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	counts, states := target.Table(p.Tables()[0].Name), target.Table(p.Tables()[1].Name)
	type tracked struct {
		run       operations.Run
		scope     uuid.UUID
		oldBucket operations.Bucket
		known     bool
	}
	runs := map[uuid.UUID]*tracked{}
	var ids []uuid.UUID
	for _, e := range events {
		if e.StreamType == operations.StreamType {
			id := e.StreamIDUUID()
			if _, ok := runs[id]; !ok {
				runs[id] = &tracked{}
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, sqlScopeCountsLoadStates.For(states), eventstore.UUIDArray(ids))
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, scope uuid.UUID
		var raw []byte
		if err := rows.Scan(&id, &scope, &raw); err != nil {
			rows.Close()
			return err
		}
		var st runState
		if err := json.Unmarshal(raw, &st); err != nil {
			rows.Close()
			return fmt.Errorf("scope_counts: state of %s: %w", id, err)
		}
		t := runs[id]
		t.run = operations.Run{ID: id, Status: st.Status, Outcome: st.Outcome, Counts: st.Counts}
		t.scope, t.known, t.oldBucket = scope, true, t.run.Bucket()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range events {
		if e.StreamType != operations.StreamType {
			continue
		}
		t := runs[e.StreamIDUUID()]
		t.run.Apply(e)
		if !t.known && t.run.ID != uuid.Nil {
			t.scope = t.run.TenantID
			if t.scope == uuid.Nil {
				t.scope = t.run.WorkspaceID
			}
		}
	}
	b := &pgx.Batch{}
	moveSQL, saveSQL := sqlScopeCountsMove.For(counts), sqlScopeCountsSaveState.For(states)
	move := func(scope uuid.UUID, bucket operations.Bucket, delta int) {
		b.Queue(moveSQL, scope, string(bucket), delta)
	}
	for _, id := range ids {
		t := runs[id]
		if t.run.ID == uuid.Nil || t.scope == uuid.Nil {
			continue
		}
		now := t.run.Bucket()
		switch {
		case !t.known:
			move(t.scope, now, 1)
		case now != t.oldBucket:
			move(t.scope, t.oldBucket, -1)
			move(t.scope, now, 1)
		}
		raw, err := json.Marshal(runState{Status: t.run.Status, Outcome: t.run.Outcome, Counts: t.run.Counts})
		if err != nil {
			return err
		}
		b.Queue(saveSQL, id, t.scope, raw)
	}
	// A bucket a run passed through within the batch may be left at zero: drop it, so
	// the table does not depend on how the log was cut into batches.
	b.Queue(sqlScopeCountsDeleteEmpty.For(counts))
	return tx.SendBatch(ctx, b).Close()
}

// ScopeCount is one scope's runs by bucket.
type ScopeCount struct {
	ScopeID uuid.UUID        `json:"scopeId"`
	Buckets map[string]int64 `json:"buckets"`
}

// Counts returns the runs by bucket of the given scopes (tenants or workspaces).
func (q *RunReader) Counts(ctx context.Context, scopes []uuid.UUID) ([]ScopeCount, error) {
	rows, err := q.pool.Query(ctx, sqlScopeCounts, eventstore.UUIDArray(scopes))
	if err != nil {
		return nil, fmt.Errorf("projections: counts: %w", err)
	}
	defer rows.Close()
	var out []ScopeCount
	for rows.Next() {
		var id uuid.UUID
		var bucket string
		var n int64
		if err := rows.Scan(&id, &bucket, &n); err != nil {
			return nil, fmt.Errorf("projections: counts: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ScopeID != id {
			out = append(out, ScopeCount{ScopeID: id, Buckets: map[string]int64{}})
		}
		out[len(out)-1].Buckets[bucket] = n
	}
	return out, rows.Err()
}

// Timeline returns a run's timeline rows in order.
func (q *RunReader) Timeline(ctx context.Context, runID uuid.UUID) ([]TimelineEntry, error) {
	rows, err := q.pool.Query(ctx, sqlTimeline, runID)
	if err != nil {
		return nil, fmt.Errorf("projections: timeline: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[TimelineEntry])
}
