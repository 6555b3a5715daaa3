package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound: no such cached object or sync.
var ErrNotFound = errors.New("directory: not found")

// Group is one cached Entra group.
type Group struct {
	ObjectID        string
	DisplayName     string
	Description     string
	Mail            string
	MailEnabled     bool
	SecurityEnabled bool
	GroupTypes      []string
	RunID           uuid.UUID // the sync that last saw it (see lastSeen)
	LastSyncedAt    time.Time
	// ChangedRunID is the sync that last wrote the group (created it or changed its
	// content), at ChangedAt (that sync's start).
	ChangedRunID uuid.UUID
	ChangedAt    time.Time
}

// RoleDefinition is one cached Entra role definition.
type RoleDefinition struct {
	ObjectID     string
	DisplayName  string
	Description  string
	IsBuiltIn    bool
	IsEnabled    bool
	TemplateID   string
	RunID        uuid.UUID
	LastSyncedAt time.Time
}

// MaxSearchLimit bounds a picker search.
const MaxSearchLimit = 200

// searchPatterns returns the LIKE patterns (substring, prefix) of a query:
// lower-cased, with LIKE's wildcards escaped.
func searchPatterns(query string) (substring, prefix string) {
	q := strings.ToLower(strings.TrimSpace(query))
	q = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
	return "%" + q + "%", q + "%"
}

// searchSQL finds names containing the query, names starting with it first, then by
// name; the trigram index serves the substring match, the per-tenant name index the
// empty query.
func searchSQL(columns, table, kind string) string {
	return `SELECT ` + columns + ` FROM ` + table + ` o` + lastSeen(kind) + `
		WHERE o.tenant_id = $1 AND ($2 = '%%' OR lower(o.display_name) LIKE $2)
		ORDER BY lower(o.display_name) LIKE $3 DESC, lower(o.display_name) COLLATE "C", o.object_id LIMIT $4`
}

// lastSeen joins the tenant's last complete sync of kind (alias st) to a cached object
// (alias o). A sync writes only new and changed objects, so an object's own
// changed_run_id is the sync that last wrote it; the last complete sync saw every object
// still cached, so it is the last one to have seen the object unless a later
// (unfinished) sync wrote it.
func lastSeen(kind string) string {
	return ` LEFT JOIN dir_sync_state st ON st.tenant_id = o.tenant_id AND st.kind = '` + kind + `'`
}

// seenColumns are the run and time of the sync that last saw object o (see lastSeen).
const seenColumns = `CASE WHEN st.synced_at >= o.changed_at THEN st.run_id ELSE o.changed_run_id END,
	GREATEST(st.synced_at, o.changed_at)`

const groupColumns = `o.object_id, o.display_name, o.description, o.mail, o.mail_enabled, o.security_enabled, o.group_types, ` + seenColumns +
	`, o.changed_run_id, o.changed_at`

func scanGroup(r pgx.CollectableRow) (Group, error) {
	var g Group
	err := r.Scan(&g.ObjectID, &g.DisplayName, &g.Description, &g.Mail, &g.MailEnabled, &g.SecurityEnabled, &g.GroupTypes, &g.RunID, &g.LastSyncedAt,
		&g.ChangedRunID, &g.ChangedAt)
	g.LastSyncedAt, g.ChangedAt = g.LastSyncedAt.UTC(), g.ChangedAt.UTC()
	return g, err
}

const roleColumns = `o.object_id, o.display_name, o.description, o.is_built_in, o.is_enabled, o.template_id, ` + seenColumns

func scanRole(r pgx.CollectableRow) (RoleDefinition, error) {
	var d RoleDefinition
	err := r.Scan(&d.ObjectID, &d.DisplayName, &d.Description, &d.IsBuiltIn, &d.IsEnabled, &d.TemplateID, &d.RunID, &d.LastSyncedAt)
	d.LastSyncedAt = d.LastSyncedAt.UTC()
	return d, err
}

func limitOf(limit int) int {
	if limit <= 0 || limit > MaxSearchLimit {
		return MaxSearchLimit
	}
	return limit
}

// SearchGroups returns up to limit (1..200) cached groups of the tenant whose display
// name contains query (case-insensitive; "" matches all), names starting with it first.
func (s *Service) SearchGroups(ctx context.Context, tenantID uuid.UUID, query string, limit int) ([]Group, error) {
	return search(ctx, s.pool, groupsKind, groupColumns, scanGroup, tenantID, query, limit)
}

// SearchRoleDefinitions is SearchGroups for role definitions.
func (s *Service) SearchRoleDefinitions(ctx context.Context, tenantID uuid.UUID, query string, limit int) ([]RoleDefinition, error) {
	return search(ctx, s.pool, rolesKind, roleColumns, scanRole, tenantID, query, limit)
}

// search is SearchGroups for any cached kind k, whose objects columns selects and scan
// reads.
func search[T any](ctx context.Context, pool *pgxpool.Pool, k kind, columns string, scan pgx.RowToFunc[T], tenantID uuid.UUID, query string, limit int) ([]T, error) {
	sub, prefix := searchPatterns(query)
	rows, err := pool.Query(ctx, searchSQL(columns, k.table, k.name), tenantID, sub, prefix, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("directory: search %s: %w", k.name, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("directory: search %s: %w", k.name, err)
	}
	return out, nil
}

// Group returns one cached group, or ErrNotFound.
func (s *Service) Group(ctx context.Context, tenantID uuid.UUID, objectID string) (Group, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+groupColumns+` FROM dir_groups o`+lastSeen(groupsKind.name)+` WHERE o.tenant_id = $1 AND o.object_id = $2`, tenantID, objectID)
	if err != nil {
		return Group{}, fmt.Errorf("directory: group: %w", err)
	}
	g, err := pgx.CollectExactlyOneRow(rows, scanGroup)
	if errors.Is(err, pgx.ErrNoRows) {
		return Group{}, fmt.Errorf("directory: group %s: %w", objectID, ErrNotFound)
	}
	if err != nil {
		return Group{}, fmt.Errorf("directory: group: %w", err)
	}
	return g, nil
}

// CountGroups returns how many groups of the tenant are cached.
func (s *Service) CountGroups(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dir_groups WHERE tenant_id = $1`, tenantID).Scan(&n)
	return n, err
}

// CountRoleDefinitions returns how many role definitions of the tenant are cached.
func (s *Service) CountRoleDefinitions(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dir_role_definitions WHERE tenant_id = $1`, tenantID).Scan(&n)
	return n, err
}

// GroupsSyncState returns the tenant's last complete groups sync, or ErrNotFound.
func (s *Service) GroupsSyncState(ctx context.Context, tenantID uuid.UUID) (SyncState, error) {
	return s.syncState(ctx, tenantID, groupsKind.name)
}

// RoleDefinitionsSyncState returns the tenant's last complete role definitions sync, or ErrNotFound.
func (s *Service) RoleDefinitionsSyncState(ctx context.Context, tenantID uuid.UUID) (SyncState, error) {
	return s.syncState(ctx, tenantID, rolesKind.name)
}

func (s *Service) syncState(ctx context.Context, tenantID uuid.UUID, kind string) (SyncState, error) {
	var st SyncState
	err := s.pool.QueryRow(ctx, `SELECT run_id, synced_at, object_count FROM dir_sync_state WHERE tenant_id = $1 AND kind = $2`,
		tenantID, kind).Scan(&st.RunID, &st.SyncedAt, &st.ObjectCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return SyncState{}, fmt.Errorf("directory: %s sync of tenant %s: %w", kind, tenantID, ErrNotFound)
	}
	if err != nil {
		return SyncState{}, fmt.Errorf("directory: sync state: %w", err)
	}
	st.SyncedAt = st.SyncedAt.UTC()
	return st, nil
}
