package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The statements of authorize.sql; a user's effective role on a tenant is written out there.
var (
	sqlAuthorizeTenant    = sqlQueries.Get("AuthorizeTenant")
	sqlAuthorizeWorkspace = sqlQueries.Get("AuthorizeWorkspace")
	sqlRoleFor            = sqlQueries.Get("RoleFor")
	sqlVisibleTenants     = sqlQueries.Get("VisibleTenants")
	sqlVisibleWorkspaces  = sqlQueries.Get("VisibleWorkspaces")
	sqlMemberWorkspaces   = sqlQueries.Get("MemberWorkspaces")
	sqlTenantSwitcher     = sqlQueries.Get("TenantSwitcher")
	sqlHasCapability      = sqlQueries.Get("HasCapability")
	sqlWholeWorkspaces    = sqlQueries.Get("WholeWorkspaces")
	sqlRequireTenant      = sqlQueries.Get("RequireTenantRole")
	sqlRequireWorkspace   = sqlQueries.Get("RequireWorkspaceRole")
)

// Decision is the answer of Authorize: Allowed, NotFound or Forbidden. The zero value
// is no decision (returned with an error) and must be treated as a denial.
type Decision int

// The decisions; they start at 1 so that a zero Decision never means Allowed.
const (
	// Allowed means the user has the capability there.
	Allowed Decision = iota + 1
	// NotFound means the target does not exist or the user is not a member: answer 404
	// and reveal nothing.
	NotFound
	// Forbidden means the user is a member but lacks the capability: answer 403.
	Forbidden
)

// String returns "allowed", "not_found", "forbidden" or "undecided".
func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case NotFound:
		return "not_found"
	case Forbidden:
		return "forbidden"
	}
	return "undecided"
}

// Err returns nil for Allowed, ErrNotFound for NotFound and ErrForbidden otherwise
// (including the zero Decision), for handlers that map errors to statuses in one place.
func (d Decision) Err() error {
	switch d {
	case Allowed:
		return nil
	case NotFound:
		return ErrNotFound
	}
	return ErrForbidden
}

// Authorize is the tenant-scoped authorization function: it answers whether userID may
// use capability c on tenantID, returning the tenant when the user is a member.
//
//   - the user's role on a tenant is its tenant-level membership's role if there is
//     one (even when lower than the workspace-level role: the tenant-level role wins),
//     else its workspace-level membership's role;
//   - unknown tenant, or no role on it → NotFound (existence is never revealed);
//   - a role without c → Forbidden;
//   - otherwise Allowed.
//
// An unknown capability is a programming error: it returns an error wrapping ErrInvalid.
func (s *Service) Authorize(ctx context.Context, userID, tenantID uuid.UUID, c Capability) (Tenant, Decision, error) {
	t, _, d, err := s.AuthorizeRole(ctx, userID, tenantID, c)
	return t, d, err
}

// AuthorizeRole is Authorize that also returns the user's effective role on the tenant
// (RoleFor's answer, "" when the decision is NotFound), for a page that decides more
// by the role without asking again.
func (s *Service) AuthorizeRole(ctx context.Context, userID, tenantID uuid.UUID, c Capability) (Tenant, Role, Decision, error) {
	if !c.Valid() {
		return Tenant{}, "", 0, fmt.Errorf("tenancy: authorize: capability %q: %w", c, ErrInvalid)
	}
	var role pgtype.Text
	t, err := scanTenant(s.pool.QueryRow(ctx, sqlAuthorizeTenant, tenantID, userID), &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, "", NotFound, nil
	}
	if err != nil {
		return Tenant{}, "", 0, fmt.Errorf("tenancy: authorize: %w", err)
	}
	if !role.Valid {
		return Tenant{}, "", NotFound, nil
	}
	if !Role(role.String).Can(c) {
		return t, Role(role.String), Forbidden, nil
	}
	return t, Role(role.String), Allowed, nil
}

// AuthorizeWorkspace is the workspace-scoped authorization function, for actions on
// the workspace as a whole (members, workspace settings, workspace-wide audit):
//
//   - unknown workspace, or no membership at all in it → NotFound;
//   - a workspace-level role with c → Allowed;
//   - otherwise Forbidden: a workspace-level role without c, and also a member with
//     only tenant-level memberships, whose roles never reach beyond their tenants.
//
// Lists that span tenants filter with VisibleTenants instead.
func (s *Service) AuthorizeWorkspace(ctx context.Context, userID, workspaceID uuid.UUID, c Capability) (Decision, error) {
	if !c.Valid() {
		return 0, fmt.Errorf("tenancy: authorize workspace: capability %q: %w", c, ErrInvalid)
	}
	var (
		role   pgtype.Text
		member bool
	)
	err := s.pool.QueryRow(ctx, sqlAuthorizeWorkspace, workspaceID, userID).Scan(&role, &member)
	if errors.Is(err, pgx.ErrNoRows) {
		return NotFound, nil
	}
	if err != nil {
		return 0, fmt.Errorf("tenancy: authorize workspace: %w", err)
	}
	switch {
	case !member:
		return NotFound, nil
	case !role.Valid || !Role(role.String).Can(c):
		return Forbidden, nil
	}
	return Allowed, nil
}

// RequireTenant returns a statement for the caller's own transaction that fails it
// (IsRefused) unless Authorize(userID, tenantID, c) would answer Allowed and the tenant
// belongs to workspaceID. It writes nothing. A refusal does not say which denial it was:
// a caller that must answer NotFound or Forbidden (and audit it) asks Authorize then. It
// is for a writer that knows the workspace already and saves a round trip by deciding
// authorization in the transaction that writes (the start gate).
func RequireTenant(userID, workspaceID, tenantID uuid.UUID, c Capability) (string, []any, error) {
	if !c.Valid() {
		return "", nil, fmt.Errorf("tenancy: require: capability %q: %w", c, ErrInvalid)
	}
	return sqlRequireTenant, []any{tenantID, userID, workspaceID, rolesWith(c)}, nil
}

// RequireWorkspace is RequireTenant for AuthorizeWorkspace(userID, workspaceID, c).
func RequireWorkspace(userID, workspaceID uuid.UUID, c Capability) (string, []any, error) {
	if !c.Valid() {
		return "", nil, fmt.Errorf("tenancy: require: capability %q: %w", c, ErrInvalid)
	}
	return sqlRequireWorkspace, []any{workspaceID, userID, rolesWith(c)}, nil
}

// refusedCode is the SQLSTATE of tn_require (migration 006): a statement of
// RequireTenant or RequireWorkspace refused.
const refusedCode = "TA403"

// IsRefused reports whether err is (or wraps) the refusal of a RequireTenant or
// RequireWorkspace statement.
func IsRefused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == refusedCode
}

// RoleFor returns the user's effective role on a tenant (see Authorize); false when
// the user has none there or the tenant does not exist.
func (s *Service) RoleFor(ctx context.Context, userID, tenantID uuid.UUID) (Role, bool, error) {
	var role pgtype.Text
	err := s.pool.QueryRow(ctx, sqlRoleFor, tenantID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("tenancy: role for: %w", err)
	}
	if !role.Valid {
		return "", false, nil
	}
	return Role(role.String), true, nil
}

// VisibleTenants returns the ids of the tenants, across all workspaces, on which the
// user's effective role has c (never nil), ordered by creation; for list filters.
func (s *Service) VisibleTenants(ctx context.Context, userID uuid.UUID, c Capability) ([]uuid.UUID, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("tenancy: visible tenants: capability %q: %w", c, ErrInvalid)
	}
	rows, err := s.pool.Query(ctx, sqlVisibleTenants, rolesWith(c), userID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: visible tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("tenancy: visible tenants: %w", err)
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, nil
}

// TenantSwitcher returns what a page's tenant switcher shows: the first n tenants
// (by creation, as VisibleTenants orders them) on which the user's effective role has
// c, plus the tenant include if it is not among them (the page's own, which the page
// has authorized; uuid.Nil for none), sorted by name (as TenantsByID sorts), and how
// many tenants have c in all. One statement: the visible ids never leave the server.
// n must be at least 1 (no row at all then means no tenant is visible).
func (s *Service) TenantSwitcher(ctx context.Context, userID uuid.UUID, c Capability, n int, include uuid.UUID) ([]Tenant, int, error) {
	var out []Tenant
	var total int
	err := s.sendQueued(ctx, func(b *pgx.Batch) error { return s.QueueTenantSwitcher(b, userID, c, n, include, &out, &total) })
	return out, total, err
}

// HasCapability reports whether userID has capability c on some workspace or tenant
// (QueueHasCapability).
func (s *Service) HasCapability(ctx context.Context, userID uuid.UUID, c Capability) (bool, error) {
	var has bool
	err := s.sendQueued(ctx, func(b *pgx.Batch) error { return s.QueueHasCapability(b, userID, c, &has) })
	return has, err
}

// sendQueued sends what queue queues on a batch of its own (a Queue… method asked alone).
func (s *Service) sendQueued(ctx context.Context, queue func(*pgx.Batch) error) error {
	b := &pgx.Batch{}
	if err := queue(b); err != nil {
		return err
	}
	return s.pool.SendBatch(ctx, b).Close()
}

// QueueTenantSwitcher queues TenantSwitcher's query on b, for a caller that sends it
// with others in one round trip: once b's results are read, *tenants and *total hold
// its answer (a failure is the batch's error).
func (s *Service) QueueTenantSwitcher(b *pgx.Batch, userID uuid.UUID, c Capability, n int, include uuid.UUID, tenants *[]Tenant, total *int) error {
	if !c.Valid() {
		return fmt.Errorf("tenancy: tenant switcher: capability %q: %w", c, ErrInvalid)
	}
	if n < 1 {
		return fmt.Errorf("tenancy: tenant switcher: %d tenants: %w", n, ErrInvalid)
	}
	var inc pgtype.UUID
	if include != uuid.Nil {
		inc = pgtype.UUID{Bytes: include, Valid: true}
	}
	b.Queue(sqlTenantSwitcher, rolesWith(c), userID, n, inc).Query(func(rows pgx.Rows) error {
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r, total) })
		if err != nil {
			return fmt.Errorf("tenancy: tenant switcher: %w", err)
		}
		if out == nil {
			out = []Tenant{}
		}
		*tenants = out
		return nil
	})
	return nil
}

// QueueHasCapability queues on b whether userID has capability c on some workspace or
// tenant: once b's results are read, *has holds it. That is exactly when VisibleWorkspaces
// or VisibleTenants answers someone (a workspace-level role with c, or else a
// tenant-level one, which then decides its tenant), asked of the user's memberships alone.
func (s *Service) QueueHasCapability(b *pgx.Batch, userID uuid.UUID, c Capability, has *bool) error {
	if !c.Valid() {
		return fmt.Errorf("tenancy: has capability: capability %q: %w", c, ErrInvalid)
	}
	b.Queue(sqlHasCapability, userID, rolesWith(c)).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(has); err != nil {
			return fmt.Errorf("tenancy: has capability: %w", err)
		}
		return nil
	})
	return nil
}

// VisibleWorkspaces lists the workspaces where userID has capability c through a
// workspace-level membership (what workspace-scoped resources, like platform runbook
// runs, require; tenant-level members see only their tenants).
func (s *Service) VisibleWorkspaces(ctx context.Context, userID uuid.UUID, c Capability) ([]uuid.UUID, error) {
	return s.workspaceList(ctx, "visible workspaces", sqlVisibleWorkspaces, userID, c)
}

// workspaceList answers one of the workspace lists of a user and a capability (query
// takes the user and the roles having it); what names it in errors.
func (s *Service) workspaceList(ctx context.Context, what, query string, userID uuid.UUID, c Capability) ([]uuid.UUID, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("tenancy: %s: capability %q: %w", what, c, ErrInvalid)
	}
	rows, err := s.pool.Query(ctx, query, userID, rolesWith(c))
	if err != nil {
		return nil, fmt.Errorf("tenancy: %s: %w", what, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("tenancy: %s: %w", what, err)
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, nil
}

// WholeWorkspaces lists the workspaces where userID has capability c on everything: on
// the workspace (VisibleWorkspaces) and on every one of its tenants (VisibleTenants
// answers them all, and will answer a tenant added later). A list of such a workspace's
// runs needs no tenant list.
func (s *Service) WholeWorkspaces(ctx context.Context, userID uuid.UUID, c Capability) ([]uuid.UUID, error) {
	return s.workspaceList(ctx, "whole workspaces", sqlWholeWorkspaces, userID, c)
}

// MemberWorkspaces lists the workspaces userID belongs to, with any role, at workspace
// or tenant level: everything the user can see lies in them.
func (s *Service) MemberWorkspaces(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, sqlMemberWorkspaces, userID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: member workspaces: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("tenancy: member workspaces: %w", err)
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, nil
}
