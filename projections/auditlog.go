package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
)

// The statements of audit_log: its Apply (apply.sql) and its readers (readers.sql).
var (
	sqlAuditLogInsert     = sqlQueries.Table("AuditLogInsert")
	sqlAuditLogPage       = sqlQueries.Get("AuditLogPage")
	sqlAuditLogExport     = sqlQueries.Get("AuditLogExport")
	sqlAuditLogCheckpoint = sqlQueries.Get("AuditLogCheckpoint")
)

// AuditLog is the audit log read model: one row per AuditRecorded event, keyed by its
// global position, with an index per filter of the compliance pages (actor, action,
// tenant, outcome, time) and the event's content and chain hashes. RunReader.AuditPage
// and AuditExport read it.
type AuditLog struct{}

// Name implements Projection.
func (AuditLog) Name() string { return "audit_log" }

// Version implements Projection.
func (AuditLog) Version() int { return 1 }

// Tables implements Projection.
func (AuditLog) Tables() []Table {
	return []Table{{Name: "rm_audit_log_v1", View: "rm_audit_log"}}
}

// Apply implements Projection: the batch's audit entries in one statement; a position
// already there is left alone.
func (p AuditLog) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	var pos []int64
	var ids []uuid.UUID
	var ws, tenants []pgtype.UUID
	var actions, outcomes, actors, targets, ips, uas, reasons []string
	var before, after []pgtype.Text
	var at []pgtype.Timestamptz
	var hashes, chains [][]byte
	for _, e := range events {
		a, ok := e.Data.(audit.AuditRecorded)
		if !ok {
			continue
		}
		pos, ids = append(pos, e.Position), append(ids, a.EntryID)
		ws = append(ws, pgtype.UUID{Bytes: a.WorkspaceID, Valid: a.WorkspaceID != uuid.Nil})
		tenants = append(tenants, pgtype.UUID{Bytes: a.TenantID, Valid: a.TenantID != uuid.Nil})
		actions, outcomes, actors = append(actions, a.Action), append(outcomes, a.Outcome), append(actors, a.Actor)
		targets, ips, uas, reasons = append(targets, a.Target), append(ips, a.IP), append(uas, a.UserAgent), append(reasons, a.Reason)
		before = append(before, pgtype.Text{String: string(a.Before), Valid: len(a.Before) > 0})
		after = append(after, pgtype.Text{String: string(a.After), Valid: len(a.After) > 0})
		at = append(at, pgtype.Timestamptz{Time: e.RecordedAt, Valid: true})
		chain := e.ChainHash
		if chain == nil {
			chain = []byte{}
		}
		hashes, chains = append(hashes, e.Hash), append(chains, chain)
	}
	if len(pos) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, sqlAuditLogInsert.For(target.Table(p.Tables()[0].Name)),
		pos, eventstore.UUIDArray(ids), actions, outcomes, actors, ws, tenants, targets, before, after, ips, uas, reasons, at, hashes, chains)
	return err
}

// AuditEntry is one row of the audit log read model.
type AuditEntry struct {
	// Position is the event's global position (the keyset of the pages).
	Position    int64           `json:"position"`
	ID          uuid.UUID       `json:"id"`
	Action      string          `json:"action"`
	Outcome     string          `json:"outcome"`
	Actor       string          `json:"actor"`
	WorkspaceID *uuid.UUID      `json:"workspaceId"`
	TenantID    *uuid.UUID      `json:"tenantId"`
	Target      string          `json:"target"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	IP          string          `json:"ip"`
	UserAgent   string          `json:"userAgent"`
	Reason      string          `json:"reason,omitempty"`
	At          time.Time       `json:"at"`
	// Hash is the event's content hash, ChainHash its link in the hash chain.
	Hash      []byte `json:"hash"`
	ChainHash []byte `json:"chainHash"`
}

// AuditFilter narrows the audit log. Workspaces and Tenants are what the caller may see
// (entries without a tenant of a workspace in Workspaces, entries of a tenant in
// Tenants); both empty sees nothing. The other fields are filters, zero meaning any.
type AuditFilter struct {
	Workspaces []uuid.UUID
	Tenants    []uuid.UUID
	Actor      string
	Action     string
	Tenant     uuid.UUID
	Outcome    string
	// Since and Until bound the entry's time: Since <= at < Until.
	Since, Until time.Time
	// Limit is the page size (default 50, at most 200).
	Limit int
}

// ErrBadAuditCursor: the cursor is not one the audit pages made.
var ErrBadAuditCursor = errors.New("projections: invalid audit cursor")

func (f AuditFilter) args() []any {
	text := func(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }
	ts := func(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }
	ws, tn := f.Workspaces, f.Tenants
	if ws == nil {
		ws = []uuid.UUID{}
	}
	if tn == nil {
		tn = []uuid.UUID{}
	}
	return []any{eventstore.UUIDArray(ws), eventstore.UUIDArray(tn), text(f.Actor), text(f.Action),
		pgtype.UUID{Bytes: f.Tenant, Valid: f.Tenant != uuid.Nil}, text(f.Outcome), ts(f.Since), ts(f.Until)}
}

// AuditPage returns one page of the audit log, newest first, and the cursor of the next
// page ("" on the last); cursor "" is the first page, one this service did not make is
// ErrBadAuditCursor.
func (q *RunReader) AuditPage(ctx context.Context, f AuditFilter, cursor string) ([]AuditEntry, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var below pgtype.Int8
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 1 {
			return nil, "", ErrBadAuditCursor
		}
		below = pgtype.Int8{Int64: n, Valid: true}
	}
	rows, err := q.pool.Query(ctx, sqlAuditLogPage, append(f.args(), below, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("projections: audit page: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAuditEntry)
	if err != nil {
		return nil, "", fmt.Errorf("projections: audit page: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].Position, 10)
	}
	return out, next, nil
}

// AuditCheckpoint is how far the audit log read model has applied the log (a global
// position): an export names it beside the chain head.
func (q *RunReader) AuditCheckpoint(ctx context.Context) (int64, error) {
	var pos int64
	err := q.pool.QueryRow(ctx, sqlAuditLogCheckpoint).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("projections: audit checkpoint: %w", err)
	}
	return pos, nil
}

// AuditExport calls fn with every entry of the filter at or below position upTo, oldest
// first, reading page by page (no transaction is held open while fn writes).
func (q *RunReader) AuditExport(ctx context.Context, f AuditFilter, upTo int64, fn func(AuditEntry) error) error {
	const page = 1000
	var after int64
	for {
		rows, err := q.pool.Query(ctx, sqlAuditLogExport, append(f.args(), after, page, upTo)...)
		if err != nil {
			return fmt.Errorf("projections: audit export: %w", err)
		}
		list, err := pgx.CollectRows(rows, scanAuditEntry)
		if err != nil {
			return fmt.Errorf("projections: audit export: %w", err)
		}
		for _, e := range list {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(list) < page {
			return nil
		}
		after = list[len(list)-1].Position
	}
}

func scanAuditEntry(r pgx.CollectableRow) (AuditEntry, error) {
	var e AuditEntry
	var before, after pgtype.Text
	err := r.Scan(&e.Position, &e.ID, &e.Action, &e.Outcome, &e.Actor, &e.WorkspaceID, &e.TenantID, &e.Target,
		&before, &after, &e.IP, &e.UserAgent, &e.Reason, &e.At, &e.Hash, &e.ChainHash)
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	e.At = e.At.UTC()
	return e, err
}
