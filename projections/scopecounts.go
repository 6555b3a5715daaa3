package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of scope_counts: its Apply (apply.sql) and its readers (readers.sql, with
// the timeline's reader).
var (
	sqlScopeCountsLoadStates      = sqlQueries.Table("ScopeCountsLoadStates")
	sqlScopeCountsMove            = sqlQueries.Table("ScopeCountsMove")
	sqlScopeCountsSaveState       = sqlQueries.Table("ScopeCountsSaveState")
	sqlScopeCountsDeleteEmpty     = sqlQueries.Table("ScopeCountsDeleteEmpty")
	sqlScopeCountsHourMove        = sqlQueries.Table("ScopeCountsHourMove")
	sqlScopeCountsFinished        = sqlQueries.Table("ScopeCountsFinished")
	sqlScopeCountsHourDeleteEmpty = sqlQueries.Table("ScopeCountsHourDeleteEmpty")
	sqlScopeCounts                = sqlQueries.Get("ScopeCounts")
	sqlScopeWindow                = sqlQueries.Get("ScopeWindow")
	sqlScopeThroughput            = sqlQueries.Get("ScopeThroughput")
	sqlScopeOldestQueued          = sqlQueries.Get("ScopeOldestQueued")
	sqlTimeline                   = sqlQueries.Get("Timeline")
)

// ColumnBlocked is the overview column of runs whose outcome is blocked: they are in the
// failed bucket, and the overview shows them apart from the other failed runs.
const ColumnBlocked = "blocked"

// ScopeCounts counts runs per tenant (or workspace, for workspace-scoped runs) and
// status bucket, for dashboards and the list pages' bucket tabs; since version 2 also per
// queued hour and overview column (the bucket, blocked apart), and the runs finished per
// hour, for the overview's windows and sparkline.
type ScopeCounts struct{}

// Name implements Projection.
func (ScopeCounts) Name() string { return "scope_counts" }

// Version implements Projection.
func (ScopeCounts) Version() int { return 2 }

// Tables implements Projection.
func (ScopeCounts) Tables() []Table {
	return []Table{{Name: "rm_scope_counts_v2", View: "rm_scope_counts"}, {Name: "rm_scope_counts_runs_v2", View: "rm_scope_counts_runs"},
		{Name: "rm_scope_hours_v2", View: "rm_scope_hours"}, {Name: "rm_scope_finished_v2", View: "rm_scope_finished"}}
}

// runState is the little of a run the counts need.
type runState struct {
	Status      operations.Status  `json:"s"`
	Outcome     operations.Outcome `json:"o"`
	Counts      operations.Counts  `json:"c,omitempty"`
	QueuedAt    time.Time          `json:"q"`
	CompletedAt time.Time          `json:"f,omitzero"`
}

// overviewColumn is the overview column of a run: its bucket, or blocked.
func overviewColumn(r *operations.Run) string {
	if r.Status == operations.StatusCompleted && r.Outcome == operations.OutcomeBlocked {
		return ColumnBlocked
	}
	return string(r.Bucket())
}

// hourOf is the UTC hour t falls in.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Apply implements Projection: it folds the batch's events per run (with the run
// aggregate), then moves each run whose bucket changed from the old bucket's count to
// the new one's (and its queued hour's column likewise), and counts a run that ended in
// the hour it ended.
func (p ScopeCounts) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	tables := p.Tables()
	counts, states := target.Table(tables[0].Name), target.Table(tables[1].Name)
	hours, finished := target.Table(tables[2].Name), target.Table(tables[3].Name)
	type tracked struct {
		run            operations.Run
		scope          uuid.UUID
		oldBucket      operations.Bucket
		oldCol         string
		wasDone, known bool
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
	rows, err := tx.Query(ctx, sqlScopeCountsLoadStates.For(states), eventstore.PlanEachTime, eventstore.UUIDArray(ids))
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, scope uuid.UUID
		var raw []byte
		var col string
		if err := rows.Scan(&id, &scope, &raw, &col); err != nil {
			rows.Close()
			return err
		}
		var st runState
		if err := json.Unmarshal(raw, &st); err != nil {
			rows.Close()
			return fmt.Errorf("scope_counts: state of %s: %w", id, err)
		}
		t := runs[id]
		t.run = operations.Run{ID: id, Status: st.Status, Outcome: st.Outcome, Counts: st.Counts, QueuedAt: st.QueuedAt,
			CompletedAt: st.CompletedAt}
		t.scope, t.known, t.oldBucket, t.oldCol, t.wasDone = scope, true, t.run.Bucket(), col, t.run.Terminal()
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
	// The moves summed per key (a run passing through a bucket within the batch adds 0).
	type bucketKey struct {
		scope  uuid.UUID
		bucket operations.Bucket
	}
	// An hour is keyed by its Unix second: two equal instants are one key whatever
	// their time.Time representation (one statement must not upsert a row twice).
	type hourKey struct {
		scope uuid.UUID
		hour  int64
		col   string
	}
	type finishedKey struct {
		scope uuid.UUID
		hour  int64
	}
	var bucketMoves sums[bucketKey]
	var hourMoves sums[hourKey]
	var finishedMoves sums[finishedKey]
	move := func(t *tracked, bucket operations.Bucket, col string, delta int64) {
		bucketMoves.add(bucketKey{t.scope, bucket}, delta)
		hourMoves.add(hourKey{t.scope, hourOf(t.run.QueuedAt).Unix(), col}, delta)
	}
	var (
		saveIDs, saveScopes []uuid.UUID
		saveStates          [][]byte
		saveQueued          []time.Time
		saveCols            []string
	)
	for _, id := range ids {
		t := runs[id]
		if t.run.ID == uuid.Nil || t.scope == uuid.Nil {
			continue
		}
		now, col := t.run.Bucket(), overviewColumn(&t.run)
		switch {
		case !t.known:
			move(t, now, col, 1)
		case now != t.oldBucket || col != t.oldCol:
			move(t, t.oldBucket, t.oldCol, -1)
			move(t, now, col, 1)
		}
		if t.run.Terminal() && !t.wasDone {
			finishedMoves.add(finishedKey{t.scope, hourOf(t.run.CompletedAt).Unix()}, 1)
		}
		raw, err := json.Marshal(runState{Status: t.run.Status, Outcome: t.run.Outcome, Counts: t.run.Counts,
			QueuedAt: t.run.QueuedAt, CompletedAt: t.run.CompletedAt})
		if err != nil {
			return err
		}
		saveIDs, saveScopes, saveStates = append(saveIDs, id), append(saveScopes, t.scope), append(saveStates, raw)
		saveQueued, saveCols = append(saveQueued, t.run.QueuedAt), append(saveCols, col)
	}
	b := &pgx.Batch{}
	if len(bucketMoves.keys) > 0 {
		var scopes []uuid.UUID
		var buckets []string
		for _, k := range bucketMoves.keys {
			scopes, buckets = append(scopes, k.scope), append(buckets, string(k.bucket))
		}
		b.Queue(sqlScopeCountsMove.For(counts), eventstore.UUIDArray(scopes), buckets, bucketMoves.deltas)
	}
	if len(hourMoves.keys) > 0 {
		var scopes []uuid.UUID
		var hrs []time.Time
		var cols []string
		for _, k := range hourMoves.keys {
			scopes, hrs, cols = append(scopes, k.scope), append(hrs, time.Unix(k.hour, 0).UTC()), append(cols, k.col)
		}
		b.Queue(sqlScopeCountsHourMove.For(hours), eventstore.UUIDArray(scopes), hrs, cols, hourMoves.deltas)
	}
	if len(finishedMoves.keys) > 0 {
		var scopes []uuid.UUID
		var hrs []time.Time
		for _, k := range finishedMoves.keys {
			scopes, hrs = append(scopes, k.scope), append(hrs, time.Unix(k.hour, 0).UTC())
		}
		b.Queue(sqlScopeCountsFinished.For(finished), eventstore.UUIDArray(scopes), hrs, finishedMoves.deltas)
	}
	if len(saveIDs) > 0 {
		b.Queue(sqlScopeCountsSaveState.For(states), eventstore.UUIDArray(saveIDs), eventstore.UUIDArray(saveScopes),
			saveStates, saveQueued, saveCols)
	}
	// A bucket a run passed through within the batch may be left at zero: drop it, so
	// the table does not depend on how the log was cut into batches.
	b.Queue(sqlScopeCountsDeleteEmpty.For(counts))
	b.Queue(sqlScopeCountsHourDeleteEmpty.For(hours))
	return tx.SendBatch(ctx, b).Close()
}

// sums adds up a batch's moves per key, the keys in their first order: one row each for
// an upsert that must not touch a row twice.
type sums[K comparable] struct {
	keys   []K
	deltas []int64
	at     map[K]int
}

func (s *sums[K]) add(k K, delta int64) {
	i, ok := s.at[k]
	if !ok {
		if s.at == nil {
			s.at = map[K]int{}
		}
		i = len(s.keys)
		s.at[k] = i
		s.keys, s.deltas = append(s.keys, k), append(s.deltas, 0)
	}
	s.deltas[i] += delta
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

// ScopeWindow is one scope's runs queued within a window, by overview column (the
// buckets, and blocked apart from failed).
type ScopeWindow struct {
	ScopeID uuid.UUID
	Columns map[string]int64
}

// Window returns, per scope of scopes with any, the runs queued since the hour of since
// (since is truncated to its UTC hour: the model keeps hours) by overview column.
func (q *RunReader) Window(ctx context.Context, scopes []uuid.UUID, since time.Time) ([]ScopeWindow, error) {
	rows, err := q.pool.Query(ctx, sqlScopeWindow, eventstore.UUIDArray(scopes), hourOf(since))
	if err != nil {
		return nil, fmt.Errorf("projections: window: %w", err)
	}
	defer rows.Close()
	index := map[uuid.UUID]int{}
	var out []ScopeWindow
	for rows.Next() {
		var id uuid.UUID
		var col string
		var n int64
		if err := rows.Scan(&id, &col, &n); err != nil {
			return nil, fmt.Errorf("projections: window: %w", err)
		}
		i, ok := index[id]
		if !ok {
			i = len(out)
			index[id] = i
			out = append(out, ScopeWindow{ScopeID: id, Columns: map[string]int64{}})
		}
		out[i].Columns[col] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: window: %w", err)
	}
	return out, nil
}

// Throughput returns the scopes' runs finished per UTC hour from the hour of since up to
// the hour of until, one entry per hour (zero when none finished).
func (q *RunReader) Throughput(ctx context.Context, scopes []uuid.UUID, since, until time.Time) ([]int64, error) {
	from, to := hourOf(since), hourOf(until)
	n := int(to.Sub(from)/time.Hour) + 1
	if n < 1 {
		return nil, nil
	}
	out := make([]int64, n)
	rows, err := q.pool.Query(ctx, sqlScopeThroughput, eventstore.UUIDArray(scopes), from)
	if err != nil {
		return nil, fmt.Errorf("projections: throughput: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h time.Time
		var runs int64
		if err := rows.Scan(&h, &runs); err != nil {
			return nil, fmt.Errorf("projections: throughput: %w", err)
		}
		if i := int(h.Sub(from) / time.Hour); i >= 0 && i < n {
			out[i] = runs
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: throughput: %w", err)
	}
	return out, nil
}

// OldestQueued returns when the scopes' oldest still queued run was queued (zero when
// none is queued).
func (q *RunReader) OldestQueued(ctx context.Context, scopes []uuid.UUID) (time.Time, error) {
	var t *time.Time
	if err := q.pool.QueryRow(ctx, sqlScopeOldestQueued, eventstore.UUIDArray(scopes)).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("projections: oldest queued: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return *t, nil
}
