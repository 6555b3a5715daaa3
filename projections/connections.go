package projections

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The statements of connection_runs (connections.sql).
var (
	sqlConnectionRunsInsert = sqlQueries.Table("ConnectionRunsInsert")
	sqlConnectionRuns       = sqlQueries.Get("ConnectionRuns")
	sqlConnectionsLatestRun = sqlQueries.Get("ConnectionsLatestRun")
)

// maxConnectionRunsPerPage bounds RunReader.ConnectionRuns.
const maxConnectionRunsPerPage = 200

// ConnectionRuns records which provider connection each run was started on (the
// connection of its RunQueued, blocked starts included), so a connection's page lists
// its runs and its last verification (RunReader.ConnectionRuns, LatestConnectionRuns).
type ConnectionRuns struct{}

// Name implements Projection.
func (ConnectionRuns) Name() string { return "connection_runs" }

// Version implements Projection.
func (ConnectionRuns) Version() int { return 1 }

// Tables implements Projection.
func (ConnectionRuns) Tables() []Table {
	return []Table{{Name: "rm_connection_runs_v1", View: "rm_connection_runs"}}
}

// Apply implements Projection: the batch's runs on a connection in one statement.
func (p ConnectionRuns) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	var runs, conns, tenants []uuid.UUID
	var types []string
	var at []pgtype.Timestamptz
	for _, e := range events {
		q, ok := e.Data.(operations.RunQueued)
		if !ok || q.ProviderConnectionID == uuid.Nil || q.TenantID == uuid.Nil {
			continue
		}
		runs, conns, tenants = append(runs, q.RunID), append(conns, q.ProviderConnectionID), append(tenants, q.TenantID)
		types = append(types, q.Type)
		at = append(at, pgtype.Timestamptz{Time: q.QueuedAt, Valid: true})
	}
	if len(runs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, sqlConnectionRunsInsert.For(target.Table(p.Tables()[0].Name)),
		eventstore.UUIDArray(runs), eventstore.UUIDArray(conns), eventstore.UUIDArray(tenants), types, at)
	return err
}

// scanSummary scans the list columns of a run (the order of RunReader.List's).
func scanSummary(row pgx.Row, pre ...any) (RunSummary, error) {
	var s RunSummary
	dest := append(pre, &s.ID, &s.Type, &s.WorkspaceID, &s.TenantID, &s.Status, &s.Outcome, &s.Bucket, &s.ReasonCode,
		&s.Initiator, &s.QueuedAt, &s.StartedAt, &s.CompletedAt, &s.Counts)
	if err := row.Scan(dest...); err != nil {
		return RunSummary{}, err
	}
	s.URL = operations.RunURL(s.ID)
	s.TypeLabel = s.Type
	if info, ok := operations.LookupType(s.Type); ok {
		s.TypeLabel = info.Label
	}
	return s, nil
}

// ConnectionRuns returns the newest runs started on a provider connection (of runType
// only, unless ""), at most limit (1..200). The caller has checked that the user may
// view the connection's tenant.
func (q *RunReader) ConnectionRuns(ctx context.Context, connID uuid.UUID, runType string, limit int) ([]RunSummary, error) {
	limit = min(max(limit, 1), maxConnectionRunsPerPage)
	rows, err := q.pool.Query(ctx, sqlConnectionRuns, connID, runType, limit)
	if err != nil {
		return nil, fmt.Errorf("projections: connection runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunSummary, error) { return scanSummary(r) })
	if err != nil {
		return nil, fmt.Errorf("projections: connection runs: %w", err)
	}
	return out, nil
}

// LatestConnectionRuns returns, for each of the connections that has one, its newest
// run of runType (e.g. its last provider.verify), keyed by connection.
func (q *RunReader) LatestConnectionRuns(ctx context.Context, connIDs []uuid.UUID, runType string) (map[uuid.UUID]RunSummary, error) {
	out := map[uuid.UUID]RunSummary{}
	if len(connIDs) == 0 {
		return out, nil
	}
	rows, err := q.pool.Query(ctx, sqlConnectionsLatestRun, eventstore.UUIDArray(connIDs), runType)
	if err != nil {
		return nil, fmt.Errorf("projections: latest connection runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var conn uuid.UUID
		s, err := scanSummary(rows, &conn)
		if err != nil {
			return nil, fmt.Errorf("projections: latest connection runs: %w", err)
		}
		out[conn] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: latest connection runs: %w", err)
	}
	return out, nil
}
