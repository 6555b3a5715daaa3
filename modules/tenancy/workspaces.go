package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
)

// The statements of workspaces.sql.
var (
	sqlInsertWorkspace    = sqlQueries.Get("InsertWorkspace")
	sqlInsertTenant       = sqlQueries.Get("InsertTenant")
	sqlWorkspaceByID      = sqlQueries.Get("WorkspaceByID")
	sqlWorkspaceByName    = sqlQueries.Get("WorkspaceByName")
	sqlAllWorkspaces      = sqlQueries.Get("AllWorkspaces")
	sqlTenantByID         = sqlQueries.Get("TenantByID")
	sqlTenantsOfWorkspace = sqlQueries.Get("TenantsOfWorkspace")
	sqlTenantsByID        = sqlQueries.Get("TenantsByID")
)

// CreateWorkspace creates a workspace with a unique name (ErrConflict when taken).
func (s *Service) CreateWorkspace(ctx context.Context, actor Actor, name string) (Workspace, error) {
	if err := checkActor(actor); err != nil {
		return Workspace{}, fmt.Errorf("tenancy: create workspace: %w", err)
	}
	name, err := cleanName("workspace name", name, 200)
	if err != nil {
		return Workspace{}, fmt.Errorf("tenancy: create workspace: %w", err)
	}
	id, err := newID()
	if err != nil {
		return Workspace{}, fmt.Errorf("tenancy: create workspace: %w", err)
	}
	ws := Workspace{ID: id, Name: name, CreatedAt: s.clock()}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlInsertWorkspace,
			ws.ID, ws.Name, ws.CreatedAt); err != nil {
			return mapDBError(err)
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamWorkspace, ws.ID), eventstore.NoStream,
			eventstore.Metadata{Actor: actor, WorkspaceID: ws.ID},
			WorkspaceCreated{WorkspaceID: ws.ID, Name: ws.Name})
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("tenancy: create workspace: %w", err)
	}
	return ws, nil
}

// AddTenant adds a managed tenant to a workspace; names are unique per workspace.
func (s *Service) AddTenant(ctx context.Context, actor Actor, workspaceID uuid.UUID, name, externalTenantID string) (Tenant, error) {
	if err := checkActor(actor); err != nil {
		return Tenant{}, fmt.Errorf("tenancy: add tenant: %w", err)
	}
	name, err := cleanName("tenant name", name, 200)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenancy: add tenant: %w", err)
	}
	ext, err := cleanName("external tenant id", externalTenantID, 255)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenancy: add tenant: %w", err)
	}
	id, err := newID()
	if err != nil {
		return Tenant{}, fmt.Errorf("tenancy: add tenant: %w", err)
	}
	t := Tenant{ID: id, WorkspaceID: workspaceID, Name: name, ExternalTenantID: ext, CreatedAt: s.clock()}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlInsertTenant,
			t.ID, t.WorkspaceID, t.Name, t.ExternalTenantID, t.CreatedAt)
		if err != nil {
			return mapDBError(err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("workspace %s: %w", workspaceID, ErrNotFound)
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamTenant, t.ID), eventstore.NoStream,
			eventstore.Metadata{Actor: actor, WorkspaceID: t.WorkspaceID, TenantID: t.ID},
			TenantAdded{TenantID: t.ID, WorkspaceID: t.WorkspaceID, Name: t.Name, ExternalTenantID: t.ExternalTenantID})
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("tenancy: add tenant: %w", err)
	}
	return t, nil
}

// Workspace returns the workspace with the given id, or ErrNotFound.
func (s *Service) Workspace(ctx context.Context, id uuid.UUID) (Workspace, error) {
	return s.workspaceWhere(ctx, sqlWorkspaceByID, id)
}

// WorkspaceByName returns the workspace with the given name, or ErrNotFound.
func (s *Service) WorkspaceByName(ctx context.Context, name string) (Workspace, error) {
	return s.workspaceWhere(ctx, sqlWorkspaceByName, name)
}

// workspaceWhere reads the one workspace query (WorkspaceByID or WorkspaceByName) finds by arg.
func (s *Service) workspaceWhere(ctx context.Context, query string, arg any) (Workspace, error) {
	var w Workspace
	err := s.pool.QueryRow(ctx, query, arg).
		Scan(&w.ID, &w.Name, &w.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, fmt.Errorf("tenancy: workspace %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("tenancy: workspace %v: %w", arg, err)
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return w, nil
}

// scanTenant reads a tenant from the columns workspaces.sql lists, followed by extra.
func scanTenant(row pgx.Row, extra ...any) (Tenant, error) {
	var t Tenant
	err := row.Scan(append([]any{&t.ID, &t.WorkspaceID, &t.Name, &t.ExternalTenantID, &t.CreatedAt}, extra...)...)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// Tenant returns the tenant with the given id, or ErrNotFound. It does not authorize:
// handlers use Authorize.
func (s *Service) Tenant(ctx context.Context, id uuid.UUID) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, sqlTenantByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenancy: tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("tenancy: tenant %s: %w", id, err)
	}
	return t, nil
}

// TenantsOf returns the tenants of a workspace sorted by name (ErrNotFound for an
// unknown workspace).
func (s *Service) TenantsOf(ctx context.Context, workspaceID uuid.UUID) ([]Tenant, error) {
	rows, err := s.pool.Query(ctx, sqlTenantsOfWorkspace, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenants of %s: %w", workspaceID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenants of %s: %w", workspaceID, err)
	}
	if len(out) == 0 {
		if _, err := s.Workspace(ctx, workspaceID); err != nil {
			return nil, err
		}
		return []Tenant{}, nil
	}
	return out, nil
}

// TenantsByID returns the tenants with these ids, sorted by name (unknown ids are left
// out). Callers pass ids they are allowed to show, e.g. from VisibleTenants.
func (s *Service) TenantsByID(ctx context.Context, ids []uuid.UUID) ([]Tenant, error) {
	rows, err := s.pool.Query(ctx, sqlTenantsByID, eventstore.UUIDArray(ids))
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenants by id: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, fmt.Errorf("tenancy: tenants by id: %w", err)
	}
	return out, nil
}

// Workspaces returns every workspace sorted by name: for the platform panel, whose
// users act across workspaces (never for a hub user: use VisibleWorkspaces).
func (s *Service) Workspaces(ctx context.Context) ([]Workspace, error) {
	rows, err := s.pool.Query(ctx, sqlAllWorkspaces)
	if err != nil {
		return nil, fmt.Errorf("tenancy: workspaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Workspace, error) {
		var w Workspace
		err := r.Scan(&w.ID, &w.Name, &w.CreatedAt)
		w.CreatedAt = w.CreatedAt.UTC()
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("tenancy: workspaces: %w", err)
	}
	return out, nil
}
