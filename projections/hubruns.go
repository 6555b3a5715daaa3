package projections

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of apply.sql for hub_runs, on the table ApplyTo is given.
var (
	sqlHubRunsLoad   = sqlQueries.Table("HubRunsLoad")
	sqlHubRunsUpsert = sqlQueries.Table("HubRunsUpsert")
)

// HubRuns is the hub's run list and detail: one row per run, folded with the run
// aggregate itself (operations.Run.Apply), so the hub and the module can never
// disagree on what an event means. Version 2 keeps the list columns only; the row is
// the fold state.
type HubRuns struct{}

// Name implements Projection.
func (HubRuns) Name() string { return "hub_runs" }

// Version implements Projection.
func (HubRuns) Version() int { return 2 }

// Tables implements Projection.
func (h HubRuns) Tables() []Table {
	return []Table{{Name: fmt.Sprintf("rm_runs_v%d", h.Version()), View: "rm_runs"}}
}

// Apply folds a batch: it loads the current rows of the runs the batch touches (one
// query), applies the events in memory, and writes every changed row back (one
// statement for the whole batch). On the serving copy it also notifies
// RunChangedChannel of the runs it touched, so live viewers learn of the change at commit.
func (h HubRuns) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	if err := h.ApplyTo(ctx, tx, target.Table(h.Tables()[0].Name), events); err != nil {
		return err
	}
	if target != Live {
		return nil // a rebuild's shadow copy changes nothing anyone sees yet
	}
	return notifyRunChanges(ctx, tx, events)
}

// ApplyTo folds a batch into the named table (a version or shadow copy of rm_runs_v2's
// layout).
func (h HubRuns) ApplyTo(ctx context.Context, tx pgx.Tx, table string, events []eventstore.Envelope) error {
	ids := make([]uuid.UUID, 0, len(events))
	seen := map[uuid.UUID]bool{}
	for _, e := range events {
		if e.StreamType != operations.StreamType {
			continue
		}
		id := e.StreamIDUUID()
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	runs := make(map[uuid.UUID]*operations.Run, len(ids))
	rows, err := tx.Query(ctx, sqlHubRunsLoad.For(table), eventstore.PlanEachTime, eventstore.UUIDArray(ids))
	if err != nil {
		return err
	}
	for rows.Next() {
		r := &operations.Run{}
		var tenant, initiator pgtype.UUID
		var reason pgtype.Text
		var started, completed pgtype.Timestamptz
		if err := rows.Scan(&r.ID, &r.Type, &r.WorkspaceID, &tenant, &r.Status, &r.Outcome, &reason,
			&initiator, &r.Initiator.Name, &r.QueuedAt, &started, &completed, &r.Counts); err != nil {
			rows.Close()
			return fmt.Errorf("hub_runs: load rows: %w", err)
		}
		r.TenantID, r.Initiator.UserID = tenant.Bytes, initiator.Bytes
		r.ReasonCode = failure.Code(reason.String)
		r.StartedAt, r.CompletedAt = started.Time, completed.Time
		runs[r.ID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	positions := map[uuid.UUID]int64{}
	for _, e := range events {
		if e.StreamType != operations.StreamType {
			continue
		}
		id := e.StreamIDUUID()
		r, ok := runs[id]
		if !ok {
			r = &operations.Run{}
			runs[id] = r
		}
		r.Apply(e)
		positions[id] = e.Position
	}
	// One statement writes the whole batch: arrays of column values, unnested.
	var c hubColumns
	for _, id := range ids {
		r := runs[id]
		if r.ID == uuid.Nil {
			continue // events of a run whose RunQueued is not in the log: nothing to show
		}
		counts := r.Counts
		if counts == nil {
			counts = operations.Counts{}
		}
		cj, err := gojson.Marshal(counts)
		if err != nil {
			return err
		}
		c.add(r, string(cj), positions[id])
	}
	if len(c.id) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, sqlHubRunsUpsert.For(table),
		eventstore.UUIDArray(c.id), c.typ, eventstore.UUIDArray(c.workspace), c.tenant, c.status, c.outcome, c.bucket, c.reason,
		c.initiator, c.initiatorName, c.queued, c.started, c.completed, c.counts, c.position, c.context)
	return err
}

// hubColumns are the rows of one batch, column by column.
type hubColumns struct {
	id, workspace                []uuid.UUID
	tenant, initiator            []pgtype.UUID
	typ, status, outcome, bucket []string
	initiatorName, counts        []string
	reason, context              []pgtype.Text
	queued                       []time.Time
	started, completed           []pgtype.Timestamptz
	position                     []int64
}

func (c *hubColumns) add(r *operations.Run, counts string, position int64) {
	c.id = append(c.id, r.ID)
	c.workspace = append(c.workspace, r.WorkspaceID)
	c.tenant = append(c.tenant, pgtype.UUID{Bytes: r.TenantID, Valid: r.TenantID != uuid.Nil})
	c.initiator = append(c.initiator, pgtype.UUID{Bytes: r.Initiator.UserID, Valid: r.Initiator.UserID != uuid.Nil})
	c.typ = append(c.typ, r.Type)
	c.status = append(c.status, string(r.Status))
	c.outcome = append(c.outcome, string(r.Outcome))
	c.bucket = append(c.bucket, string(r.Bucket()))
	c.reason = append(c.reason, pgtype.Text{String: string(r.ReasonCode), Valid: r.ReasonCode != ""})
	c.initiatorName = append(c.initiatorName, r.Initiator.Name)
	c.queued = append(c.queued, r.QueuedAt)
	c.started = append(c.started, pgtype.Timestamptz{Time: r.StartedAt, Valid: !r.StartedAt.IsZero()})
	c.completed = append(c.completed, pgtype.Timestamptz{Time: r.CompletedAt, Valid: !r.CompletedAt.IsZero()})
	c.counts = append(c.counts, counts)
	c.position = append(c.position, position)
	// The context is known when the batch carried the run's RunQueued (the fold sets it
	// there); otherwise NULL keeps the row's.
	ctxJSON := strings.TrimSpace(string(r.Context))
	c.context = append(c.context, pgtype.Text{String: ctxJSON, Valid: ctxJSON != "" && ctxJSON != "null"})
}

// newBulkFold implements bulkRebuilder: a rebuild of hub_runs folds each run's events in
// memory and loads the rows with COPY. A run's row is final once the run has ended
// (Terminal) and hold more events of the log have gone by (its completion notice and
// the like come soon after the end); an event after that (a late link) is a late event,
// applied with Apply after the load. So the fold holds the runs still going and the
// last hold events' ended runs, not the log.
func (HubRuns) newBulkFold(hold int64) bulkFold {
	return &hubFold{open: map[uuid.UUID]*hubOpen{}, hold: hold}
}

// hubFold is hub_runs' bulkFold.
type hubFold struct {
	open  map[uuid.UUID]*hubOpen // the runs held: going, or ended and not handed out yet
	ended []hubEnded             // the ended runs held, in the order they ended
	hold  int64
	at    int64 // the position of the last event folded
}

type hubOpen struct {
	run      operations.Run
	position int64
}

type hubEnded struct {
	id uuid.UUID
	at int64 // where the run ended
}

var hubColumnNames = []string{"run_id", "type", "workspace_id", "tenant_id", "status", "outcome", "bucket", "reason_code",
	"initiator_user_id", "initiator_name", "queued_at", "started_at", "completed_at", "counts", "position", "context"}

func (f *hubFold) columns() []string { return hubColumnNames }

func (f *hubFold) fold(e eventstore.Envelope) (bool, error) {
	f.at = e.Position
	if e.StreamType != operations.StreamType {
		return true, nil
	}
	id := e.StreamIDUUID()
	o := f.open[id]
	if o == nil {
		if e.StreamVersion != 1 {
			return false, nil // the run's row is out already (or its stream's start is not in the log)
		}
		o = &hubOpen{}
		f.open[id] = o
	}
	ended := o.run.Terminal()
	o.run.Apply(e)
	o.position = e.Position
	if !ended && o.run.Terminal() {
		f.ended = append(f.ended, hubEnded{id, e.Position})
	}
	return true, nil
}

func (f *hubFold) take(least int, all bool) ([][]any, error) {
	n := len(f.open)
	if !all {
		// The ended runs held for hold events since.
		n = sort.Search(len(f.ended), func(i int) bool { return f.ended[i].at > f.at-f.hold })
		if n == 0 || n < least {
			return nil, nil
		}
	}
	rows := make([][]any, 0, n)
	add := func(o *hubOpen) error {
		if o.run.ID == uuid.Nil {
			return nil // events of a run whose RunQueued is not in the log: nothing to show
		}
		row, err := hubRow(&o.run, o.position)
		if err == nil {
			rows = append(rows, row)
		}
		return err
	}
	if all {
		for id, o := range f.open {
			delete(f.open, id)
			if err := add(o); err != nil {
				return nil, err
			}
		}
		f.ended = f.ended[:0]
		return rows, nil
	}
	for _, e := range f.ended[:n] {
		o := f.open[e.id]
		delete(f.open, e.id)
		if err := add(o); err != nil {
			return nil, err
		}
	}
	f.ended = slices.Delete(f.ended, 0, n)
	return rows, nil
}

// hubRow is a run's row for COPY, column by column as hubColumnNames, with the values
// ApplyTo's upsert writes.
func hubRow(r *operations.Run, position int64) ([]any, error) {
	counts := r.Counts
	if counts == nil {
		counts = operations.Counts{}
	}
	cj, err := gojson.Marshal(counts)
	if err != nil {
		return nil, err
	}
	var ctxJSON []byte // NULL
	if c := strings.TrimSpace(string(r.Context)); c != "" && c != "null" {
		ctxJSON = []byte(c)
	}
	return []any{[16]byte(r.ID), r.Type, [16]byte(r.WorkspaceID),
		pgtype.UUID{Bytes: r.TenantID, Valid: r.TenantID != uuid.Nil},
		string(r.Status), string(r.Outcome), string(r.Bucket()),
		pgtype.Text{String: string(r.ReasonCode), Valid: r.ReasonCode != ""},
		pgtype.UUID{Bytes: r.Initiator.UserID, Valid: r.Initiator.UserID != uuid.Nil},
		r.Initiator.Name, r.QueuedAt,
		pgtype.Timestamptz{Time: r.StartedAt, Valid: !r.StartedAt.IsZero()},
		pgtype.Timestamptz{Time: r.CompletedAt, Valid: !r.CompletedAt.IsZero()},
		cj, position, ctxJSON}, nil
}
