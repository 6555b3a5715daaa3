package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

// effectiveRole is the SQL that picks a user's role on tenant t: the tenant-level
// membership if there is one, else the workspace-level one ($user is the user id).
const effectiveRole = `(SELECT m.role FROM tn_memberships m
	WHERE m.user_id = $2 AND m.workspace_id = t.workspace_id AND (m.tenant_id = t.id OR m.tenant_id IS NULL)
	ORDER BY m.tenant_id IS NULL LIMIT 1)`

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
	if !c.Valid() {
		return Tenant{}, 0, fmt.Errorf("tenancy: authorize: capability %q: %w", c, ErrInvalid)
	}
	var role pgtype.Text
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+`, `+effectiveRole+`
		FROM tn_tenants t WHERE t.id = $1`, tenantID, userID), &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, NotFound, nil
	}
	if err != nil {
		return Tenant{}, 0, fmt.Errorf("tenancy: authorize: %w", err)
	}
	if !role.Valid {
		return Tenant{}, NotFound, nil
	}
	if !Role(role.String).Can(c) {
		return t, Forbidden, nil
	}
	return t, Allowed, nil
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
	err := s.pool.QueryRow(ctx, `SELECT
			(SELECT m.role FROM tn_memberships m WHERE m.user_id = $2 AND m.workspace_id = w.id AND m.tenant_id IS NULL),
			EXISTS (SELECT 1 FROM tn_memberships m WHERE m.user_id = $2 AND m.workspace_id = w.id)
		FROM tn_workspaces w WHERE w.id = $1`, workspaceID, userID).Scan(&role, &member)
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

// RoleFor returns the user's effective role on a tenant (see Authorize); false when
// the user has none there or the tenant does not exist.
func (s *Service) RoleFor(ctx context.Context, userID, tenantID uuid.UUID) (Role, bool, error) {
	var role pgtype.Text
	err := s.pool.QueryRow(ctx, `SELECT `+effectiveRole+` FROM tn_tenants t WHERE t.id = $1`, tenantID, userID).Scan(&role)
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
	rows, err := s.pool.Query(ctx, `SELECT t.id FROM tn_tenants t
		WHERE t.workspace_id IN (SELECT workspace_id FROM tn_memberships WHERE user_id = $2)
		  AND `+effectiveRole+` = ANY($1)
		ORDER BY t.created_at, t.id`, rolesWith(c), userID)
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

// VisibleWorkspaces lists the workspaces where userID has capability c through a
// workspace-level membership (what workspace-scoped resources, like platform runbook
// runs, require; tenant-level members see only their tenants).
func (s *Service) VisibleWorkspaces(ctx context.Context, userID uuid.UUID, c Capability) ([]uuid.UUID, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("tenancy: visible workspaces: capability %q: %w", c, ErrInvalid)
	}
	rows, err := s.pool.Query(ctx, `SELECT workspace_id FROM tn_memberships
		WHERE user_id = $1 AND tenant_id IS NULL AND role = ANY($2) ORDER BY workspace_id`, userID, rolesWith(c))
	if err != nil {
		return nil, fmt.Errorf("tenancy: visible workspaces: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("tenancy: visible workspaces: %w", err)
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, nil
}

// MemberWorkspaces lists the workspaces userID belongs to, with any role, at workspace
// or tenant level: everything the user can see lies in them.
func (s *Service) MemberWorkspaces(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT workspace_id FROM tn_memberships WHERE user_id = $1 ORDER BY workspace_id`, userID)
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
