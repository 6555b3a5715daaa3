package web

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// relatedRunsLimit is how many runs an object's "Runs" table shows.
const relatedRunsLimit = 20

// relatedRuns is the data of the related_runs partial: the runs that touched a page's
// object, newest first, and what "touched" means for it.
type relatedRuns struct {
	Runs []runRow
	// Note says which runs are listed (shown under the heading).
	Note string
}

// relatedRunsOf lists the runs of tenant t (which the viewer was authorized for) that
// linked one of objects (RunLinked) at or after since (zero: any time), newest link
// first, each with its tenant's name.
func (s *Server) relatedRunsOf(ctx context.Context, t tenancy.Tenant, note string, since time.Time, objects ...operations.RunLinked) (relatedRuns, error) {
	runs, err := s.reads().LinkedRuns(ctx, projections.LinkedFilter{TenantIDs: []uuid.UUID{t.ID}, Tenant: t.ID,
		Objects: objects, Since: since, Limit: relatedRunsLimit})
	if err != nil {
		return relatedRuns{}, err
	}
	rows, err := s.withTenantNames(ctx, runs, &t)
	if err != nil {
		return relatedRuns{}, err
	}
	return relatedRuns{Runs: rows, Note: note}, nil
}
