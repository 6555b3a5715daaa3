package web

import (
	"context"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// runRow is a run of a list with its tenant's name: the read model keeps the tenant's
// id only, and a list of several tenants' runs shows names.
type runRow struct {
	projections.RunSummary
	// TenantName is the name of the run's tenant; absent for a workspace-scoped run.
	TenantName string `json:"tenantName,omitempty"`
}

// withTenantNames pairs runs with their tenants' names, looked up in one query for the
// distinct tenants of the page (none when every run is known's, the page's tenant).
func (s *Server) withTenantNames(ctx context.Context, runs []projections.RunSummary, known *tenancy.Tenant) ([]runRow, error) {
	names := map[uuid.UUID]string{}
	if known != nil {
		names[known.ID] = known.Name
	}
	var ask []uuid.UUID
	for _, r := range runs {
		if r.TenantID == nil {
			continue
		}
		if _, ok := names[*r.TenantID]; !ok {
			names[*r.TenantID] = ""
			ask = append(ask, *r.TenantID)
		}
	}
	if len(ask) > 0 {
		tenants, err := s.deps.Tenancy.TenantsByID(ctx, ask)
		if err != nil {
			return nil, err
		}
		for _, t := range tenants {
			names[t.ID] = t.Name
		}
	}
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		rows[i] = runRow{RunSummary: r}
		if r.TenantID != nil {
			rows[i].TenantName = names[*r.TenantID]
		}
	}
	return rows, nil
}

// listRuns lists one page of the runs f selects, each with its tenant's name (known, when
// set, is the page's tenant), and the cursor of the next page; a bad cursor is a 400.
func (s *Server) listRuns(ctx context.Context, f projections.RunFilter, known *tenancy.Tenant) ([]runRow, string, error) {
	runs, next, err := s.reads().List(ctx, f)
	if err != nil {
		return nil, "", runListError(err)
	}
	rows, err := s.withTenantNames(ctx, runs, known)
	return rows, next, err
}
