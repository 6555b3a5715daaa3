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

// HubRuns is the hub's run list and detail: one row per run, folded with the run
// aggregate itself (operations.Run.Apply), so the hub and the module can never
// disagree on what an event means.
type HubRuns struct{}

// Name implements Projection.
func (HubRuns) Name() string { return "hub_runs" }

// Version implements Projection.
func (HubRuns) Version() int { return 1 }

// Tables implements Projection.
func (h HubRuns) Tables() []Table {
	return []Table{{Name: fmt.Sprintf("rm_runs_v%d", h.Version()), View: "rm_runs"}}
}

// Apply folds a batch: it loads the current rows of the runs the batch touches (one
// query), applies the events in memory, and writes every changed row back (one
// statement per row, sent as one batch).
func (h HubRuns) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	return h.ApplyTo(ctx, tx, target.Table(h.Tables()[0].Name), events)
}

// ApplyTo folds a batch into the named table (a version or shadow copy of rm_runs_v1's
// layout).
func (h HubRuns) ApplyTo(ctx context.Context, tx pgx.Tx, table string, events []eventstore.Envelope) error {
	table = pgx.Identifier{table}.Sanitize()
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
	rows, err := tx.Query(ctx, `SELECT run_id, snapshot FROM `+table+` WHERE run_id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id uuid.UUID
		var snap []byte
		if err := rows.Scan(&id, &snap); err != nil {
			rows.Close()
			return err
		}
		r := &operations.Run{}
		if err := json.Unmarshal(snap, r); err != nil {
			rows.Close()
			return fmt.Errorf("hub_runs: snapshot of %s: %w", id, err)
		}
		runs[id] = r
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
	b := &pgx.Batch{}
	for _, id := range ids {
		r := runs[id]
		if r.ID == uuid.Nil {
			continue // events of a run whose RunQueued is not in the log: nothing to show
		}
		snap, err := json.Marshal(r)
		if err != nil {
			return err
		}
		var tenant, initiator *uuid.UUID
		if r.TenantID != uuid.Nil {
			tenant = &r.TenantID
		}
		if r.Initiator.UserID != uuid.Nil {
			initiator = &r.Initiator.UserID
		}
		b.Queue(`INSERT INTO `+table+` (run_id, type, workspace_id, tenant_id, status, outcome, bucket, reason_code,
				initiator_user_id, initiator_name, queued_at, started_at, completed_at, snapshot, position)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, outcome = EXCLUDED.outcome,
				bucket = EXCLUDED.bucket, reason_code = EXCLUDED.reason_code, started_at = EXCLUDED.started_at,
				completed_at = EXCLUDED.completed_at, snapshot = EXCLUDED.snapshot, position = EXCLUDED.position`,
			r.ID, r.Type, r.WorkspaceID, tenant, string(r.Status), string(r.Outcome), string(r.Bucket()), string(r.ReasonCode),
			initiator, r.Initiator.Name, r.QueuedAt, nullTime(r.StartedAt), nullTime(r.CompletedAt), snap, positions[id])
	}
	return tx.SendBatch(ctx, b).Close()
}
