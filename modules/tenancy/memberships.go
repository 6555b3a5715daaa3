package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
)

// The statements of memberships.sql.
var (
	sqlUpsertMembership       = sqlQueries.Get("UpsertMembership")
	sqlMembershipScope        = sqlQueries.Get("MembershipScope")
	sqlDeleteMembership       = sqlQueries.Get("DeleteMembership")
	sqlMembershipsOfWorkspace = sqlQueries.Get("MembershipsOfWorkspace")
)

// GrantMembership gives m.UserID the role m.Role on the workspace (m.TenantID = Nil)
// or on one of its tenants, replacing the role that membership had; granting the same
// role again changes nothing and appends nothing. Unknown user, workspace or tenant →
// ErrNotFound; a tenant of another workspace → ErrInvalid.
func (s *Service) GrantMembership(ctx context.Context, actor Actor, m Membership) error {
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("tenancy: grant membership: %w", err)
	}
	if !m.Role.Valid() {
		return fmt.Errorf("tenancy: grant membership: role %q: %w", m.Role, ErrInvalid)
	}
	now := s.clock()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkMembershipScope(ctx, tx, m.UserID, m.WorkspaceID, m.TenantID); err != nil {
			return err
		}
		var previous pgtype.Text
		err := tx.QueryRow(ctx, sqlUpsertMembership,
			m.UserID, m.WorkspaceID, eventstore.NullUUID(m.TenantID), string(m.Role), now).Scan(&previous)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the membership already has this role
		}
		if err != nil {
			return mapDBError(err)
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamWorkspace, m.WorkspaceID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor, WorkspaceID: m.WorkspaceID, TenantID: m.TenantID},
			MembershipGranted{UserID: m.UserID, WorkspaceID: m.WorkspaceID, TenantID: m.TenantID,
				Role: m.Role, PreviousRole: Role(previous.String)})
	})
	if err != nil {
		return fmt.Errorf("tenancy: grant membership: %w", err)
	}
	return nil
}

// checkMembershipScope checks that the user and workspace exist and that a tenant, if
// given, exists and belongs to the workspace (the composite foreign key is the backstop).
func checkMembershipScope(ctx context.Context, tx pgx.Tx, userID, workspaceID, tenantID uuid.UUID) error {
	var userOK, workspaceOK bool
	var tenantWorkspace pgtype.UUID
	err := tx.QueryRow(ctx, sqlMembershipScope,
		userID, workspaceID, tenantID).Scan(&userOK, &workspaceOK, &tenantWorkspace)
	if err != nil {
		return err
	}
	switch {
	case !userOK:
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	case !workspaceOK:
		return fmt.Errorf("workspace %s: %w", workspaceID, ErrNotFound)
	case tenantID == uuid.Nil:
		return nil
	case !tenantWorkspace.Valid:
		return fmt.Errorf("tenant %s: %w", tenantID, ErrNotFound)
	case uuid.UUID(tenantWorkspace.Bytes) != workspaceID:
		return fmt.Errorf("tenant %s does not belong to workspace %s: %w", tenantID, workspaceID, ErrInvalid)
	}
	return nil
}

// RevokeMembership removes the user's membership of the workspace (tenantID = Nil) or
// of one tenant; ErrNotFound when there is none. Other memberships are untouched.
func (s *Service) RevokeMembership(ctx context.Context, actor Actor, userID, workspaceID, tenantID uuid.UUID) error {
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("tenancy: revoke membership: %w", err)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var role string
		err := tx.QueryRow(ctx, sqlDeleteMembership, userID, workspaceID, eventstore.NullUUID(tenantID)).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("membership of user %s: %w", userID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamWorkspace, workspaceID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor, WorkspaceID: workspaceID, TenantID: tenantID},
			MembershipRevoked{UserID: userID, WorkspaceID: workspaceID, TenantID: tenantID, Role: Role(role)})
	})
	if err != nil {
		return fmt.Errorf("tenancy: revoke membership: %w", err)
	}
	return nil
}

// Memberships returns the memberships of a workspace (workspace-level first, then by
// tenant), for the members page.
func (s *Service) Memberships(ctx context.Context, workspaceID uuid.UUID) ([]Membership, error) {
	rows, err := s.pool.Query(ctx, sqlMembershipsOfWorkspace, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: memberships of %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		var tenant pgtype.UUID
		var role string
		err := r.Scan(&m.UserID, &m.WorkspaceID, &tenant, &role)
		m.TenantID, m.Role = eventstore.FromNullUUID(tenant), Role(role)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("tenancy: memberships of %s: %w", workspaceID, err)
	}
	return out, nil
}
