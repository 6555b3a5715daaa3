package projections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// RunFilter selects runs from the hub read model.
type RunFilter struct {
	// TenantIDs are the tenants the caller may view; runs of other tenants are never returned.
	TenantIDs []uuid.UUID
	// WorkspaceIDs are the workspaces whose workspace-scoped runs the caller may view.
	WorkspaceIDs []uuid.UUID
	// Workspaces, when set, are the workspaces the caller belongs to: every visible run
	// is in one of them. A list across tenants then walks each workspace's index in
	// order instead of sorting every visible run (1 s → 1 ms on a million runs).
	Workspaces []uuid.UUID
	// WholeWorkspaces says the caller sees every run of each of Workspaces (each is one
	// of tenancy.WholeWorkspaces): a list across tenants then walks them with no
	// visibility predicate, instead of testing every run against TenantIDs (a thousand
	// ids for an MSP's owner: 1.6 → 0.3 ms a page, pgbench).
	WholeWorkspaces bool
	// Tenant narrows to one tenant (uuid.Nil: all visible).
	Tenant uuid.UUID
	// Type narrows to one run type ("" = all).
	Type string
	// RunIDs, when set, narrows to these runs (a module's list of its runs, e.g. a
	// backup schedule's executions).
	RunIDs []uuid.UUID
	// Bucket narrows to one status bucket ("" = all).
	Bucket operations.Bucket
	// Since and Until bound queued_at (zero = open).
	Since, Until time.Time
	// Cursor continues a previous page ("" = first page).
	Cursor string
	// Search narrows by run id prefix, initiator and context (ParseRunSearch); a search
	// runs under SearchTimeout.
	Search RunSearch
	// Limit is the page size (1..200, default 50).
	Limit int
	// WithoutCounts leaves each run's Counts nil: for a page that does not show them
	// (the hub's run tables), which then neither reads nor decodes the jsonb (8% of a
	// tenant page's CPU at a million runs, 2026-12-02).
	WithoutCounts bool
}

// SetWholeWorkspaces sets WholeWorkspaces when every one of f.Workspaces is among whole,
// the workspaces where the caller sees everything (tenancy.WholeWorkspaces).
func (f *RunFilter) SetWholeWorkspaces(whole []uuid.UUID) {
	f.WholeWorkspaces = len(f.Workspaces) > 0 &&
		!slices.ContainsFunc(f.Workspaces, func(ws uuid.UUID) bool { return !slices.Contains(whole, ws) })
}

// SearchTimeout bounds a list query with a search: past it the query is cancelled by the
// server and List returns ErrSearchTimeout.
const SearchTimeout = 2 * time.Second

// RunSummary is one run of a list.
type RunSummary struct {
	ID          uuid.UUID        `json:"id"`
	Type        string           `json:"type"`
	TypeLabel   string           `json:"typeLabel"`
	WorkspaceID uuid.UUID        `json:"workspaceId"`
	TenantID    *uuid.UUID       `json:"tenantId"`
	Status      string           `json:"status"`
	Outcome     string           `json:"outcome"`
	Bucket      string           `json:"bucket"`
	ReasonCode  *string          `json:"reasonCode"`
	Initiator   string           `json:"initiator"`
	QueuedAt    time.Time        `json:"queuedAt"`
	StartedAt   *time.Time       `json:"startedAt"`
	CompletedAt *time.Time       `json:"completedAt"`
	Counts      map[string]int64 `json:"counts"`
	URL         string           `json:"url"`
}

// ErrBadCursor is returned for a cursor this service did not make.
var ErrBadCursor = errors.New("projections: invalid cursor")

// RunReader answers run lists from the hub read model.
type RunReader struct{ pool *pgxpool.Pool }

// NewRunReader returns a RunReader over pool.
func NewRunReader(pool *pgxpool.Pool) *RunReader { return &RunReader{pool: pool} }

// List returns one page of runs, newest first (queued_at, then id), and the cursor of
// the next page ("" when this is the last). Keyset pagination: a page costs the same
// however deep it is.
func (q *RunReader) List(ctx context.Context, f RunFilter) ([]RunSummary, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	return q.list(ctx, f)
}

// ListStatement returns the statement and arguments List runs for f (whose search, if
// any, is ignored); ok is false when f selects nothing without asking (a tenant the
// caller may not view). For benchmarks that time the bare query beside List.
func ListStatement(f RunFilter) (sql string, args []any, ok bool, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	f.Search = RunSearch{}
	build, args, ok, err := listQuery(f)
	if !ok || err != nil {
		return "", nil, ok, err
	}
	return build(listOrder), args, true, nil
}

// listOrder is the order of every list: newest first.
const listOrder = "queued_at DESC, run_id DESC"

// listQuery assembles f's list statement: build spells it with an ORDER BY; ok is
// false when f selects nothing without asking.
func listQuery(f RunFilter) (func(order string) string, []any, bool, error) {
	// The query stays in Go (not in readers.sql): its WHERE and parameters are assembled
	// from the optional filters, and the per-workspace form wraps it.
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Tenant != uuid.Nil {
		// One tenant: its visibility is decided here, and the query needs no id list.
		if !slices.Contains(f.TenantIDs, f.Tenant) {
			return nil, nil, false, nil
		}
		where = append(where, "tenant_id = "+arg(f.Tenant))
	} else if !f.WholeWorkspaces || len(f.Workspaces) == 0 {
		where = append(where, "(tenant_id = ANY("+arg(eventstore.UUIDArray(f.TenantIDs))+") OR (tenant_id IS NULL AND workspace_id = ANY("+arg(eventstore.UUIDArray(f.WorkspaceIDs))+")))")
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	if f.RunIDs != nil {
		where = append(where, "run_id = ANY("+arg(eventstore.UUIDArray(f.RunIDs))+")")
	}
	if f.Bucket != "" {
		where = append(where, "bucket = "+arg(string(f.Bucket)))
	}
	if !f.Since.IsZero() {
		where = append(where, "queued_at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "queued_at < "+arg(f.Until))
	}
	if f.Search.IDPrefix != "" {
		lo, hi := idRange(f.Search.IDPrefix)
		where = append(where, "run_id BETWEEN "+arg(lo)+" AND "+arg(hi))
	}
	if f.Search.Initiator != "" {
		where = append(where, "lower(initiator_name) = lower("+arg(f.Search.Initiator)+")")
	}
	for _, t := range f.Search.Context {
		scalar, array, err := containment(t)
		if err != nil {
			return nil, nil, false, err
		}
		where = append(where, "(context @> "+arg(scalar)+"::jsonb OR context @> "+arg(array)+"::jsonb)")
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, nil, false, err
		}
		where = append(where, "(queued_at, run_id) < ("+arg(at)+", "+arg(id)+")")
	}
	counts := `COALESCE(counts, '{}'::jsonb)`
	if f.WithoutCounts {
		counts = `NULL::jsonb`
	}
	cols := `run_id, type, workspace_id, tenant_id, status, outcome, bucket, reason_code, initiator_name,
			queued_at, started_at, completed_at, ` + counts
	// The limit is written into the statement, not bound: with LIMIT $n the generic plan
	// of pgx's cached statement is costed for an unknown limit, so PostgreSQL planned
	// every execution anew (a tenant page's list 0.25 → 0.20 ms, pgbench). It is an int,
	// and List clamps it, so a cached statement per page size stays few.
	limit := strconv.Itoa(f.Limit + 1)
	var ws string
	if f.Tenant == uuid.Nil && len(f.Workspaces) > 0 {
		ws = arg(eventstore.UUIDArray(f.Workspaces))
	}
	build := func(order string) string {
		if ws == "" {
			return `SELECT ` + cols + ` FROM rm_runs WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY ` + order + ` LIMIT ` + limit
		}
		return `SELECT r.* FROM unnest(` + ws + `::uuid[]) AS w(id) CROSS JOIN LATERAL (
			SELECT ` + cols + ` FROM rm_runs WHERE ` + strings.Join(append([]string{"workspace_id = w.id"}, where...), " AND ") + `
			ORDER BY ` + order + ` LIMIT ` + limit + `) r
		ORDER BY r.queued_at DESC, r.run_id DESC LIMIT ` + limit
	}
	return build, args, true, nil
}

// list is List without the page size clamp (Export pages by ExportBatch).
func (q *RunReader) list(ctx context.Context, f RunFilter) ([]RunSummary, string, error) {
	build, args, ok, err := listQuery(f)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return []RunSummary{}, "", nil
	}
	sql := build(listOrder)
	var out []RunSummary
	if f.Search.Empty() {
		out, err = collectRuns(ctx, q.pool, sql, args, f.Limit+1)
	} else {
		// A search may miss every index the planner hoped for: the server cancels it past
		// SearchTimeout, in a transaction of its own so the timeout ends with it. Its plan
		// is made for its values every time (a generic plan of a cached statement cannot
		// see that an id range is narrow or a context value rare: 0.2 ms became 20 ms).
		err = pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true), set_config('plan_cache_mode', 'force_custom_plan', true)`,
				fmt.Sprint(SearchTimeout.Milliseconds())); err != nil {
				return err
			}
			if len(f.Search.Context) > 0 {
				rare, err := rareContext(ctx, tx, f.Search.Context)
				if err != nil {
					return err
				}
				if rare {
					// Few runs match: read them from the GIN index and sort them, in the same
					// order spelled so no list index can serve it. The planner's estimate of
					// a JSON containment is often far off (a value of 100 runs in a million
					// estimated at 3,000), and it then walks a list index in order hoping to
					// meet 50 matches soon: 600 ms instead of 1 ms. A common value keeps
					// that walk, which meets its matches at once.
					sql = build("queued_at + interval '0 s' DESC, run_id DESC")
				}
			}
			out, err = collectRuns(ctx, tx, sql, args, f.Limit+1)
			return err
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "57014" { // query_canceled
			return nil, "", ErrSearchTimeout
		}
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.QueuedAt, last.ID)
	}
	return out, next, nil
}

// rareContextRuns is the most runs a context search may match to be sorted from the GIN
// index rather than met walking a list index in order.
const rareContextRuns = 500

// rareContext reports whether at most rareContextRuns runs (of every tenant) match the
// context terms: one GIN lookup that stops reading rows at the bound.
func rareContext(ctx context.Context, tx pgx.Tx, terms []ContextTerm) (bool, error) {
	var conds []string
	var args []any
	for _, t := range terms {
		scalar, array, err := containment(t)
		if err != nil {
			return false, err
		}
		args = append(args, scalar, array)
		conds = append(conds, fmt.Sprintf("(context @> $%d::jsonb OR context @> $%d::jsonb)", len(args)-1, len(args)))
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM rm_runs WHERE `+strings.Join(conds, " AND ")+
		fmt.Sprintf(` LIMIT %d) m`, rareContextRuns+1), args...).Scan(&n)
	return n <= rareContextRuns, err
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// collectRuns runs a list query and reads its rows, at most limit of them (the slice is
// made for them at once).
func collectRuns(ctx context.Context, db querier, sql string, args []any, limit int) ([]RunSummary, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("projections: list runs: %w", err)
	}
	out, err := pgx.AppendRows(make([]RunSummary, 0, limit), rows, func(r pgx.CollectableRow) (RunSummary, error) { return scanSummary(r) })
	if err != nil {
		return nil, fmt.Errorf("projections: list runs: %w", err)
	}
	return out, nil
}

func encodeCursor(at time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id.String()))
}

func decodeCursor(c string) (time.Time, uuid.UUID, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	ts, idStr, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	id, err := uuid.Parse(idStr)
	if err != nil {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	return at, id, nil
}

// ExportBatch is how many runs Export reads per query when the caller names no size.
const ExportBatch = 5000

// Export calls fn with every run f selects (from f.Cursor on), newest first, batch runs
// at a time (ExportBatch when batch <= 0). Each batch is one short query continuing
// where the last ended (keyset), so an export of a million runs holds no transaction
// open (sealing is never stalled) and keeps one batch in memory. It stops at fn's first
// error.
func (q *RunReader) Export(ctx context.Context, f RunFilter, batch int, fn func([]RunSummary) error) error {
	if batch <= 0 {
		batch = ExportBatch
	}
	for {
		runs, next, err := q.ExportPage(ctx, f, batch)
		if err != nil {
			return err
		}
		if len(runs) > 0 {
			if err := fn(runs); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// ExportPage is one batch of an export: up to batch runs (ExportBatch when batch <= 0,
// not clamped to a list page's 200) from f.Cursor on, and the cursor of the next batch
// ("" after the last).
func (q *RunReader) ExportPage(ctx context.Context, f RunFilter, batch int) ([]RunSummary, string, error) {
	if batch <= 0 {
		batch = ExportBatch
	}
	f.Limit = batch
	return q.list(ctx, f)
}
