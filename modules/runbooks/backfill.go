package runbooks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// backfill is the findings.lifecycle.backfill handler: one workspace-scoped run over
// one tenant or every tenant of the workspace. The tenants are worked one after the
// other, each in its own transaction under its own lock (drift.BackfillLifecycle); after
// each the run's counts grow by that tenant's figures (total, processed, updated,
// skipped, or failed with a sanitized failure) and are flushed, so the run page shows
// the progress tenant by tenant. The run ends when the last tenant is done: failed when
// every tenant failed, partially succeeded when some did. Its end is audited
// (platform.ops.runbooks.completed|failed).
func (s *Service) backfill(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
	var rc backfillContext
	if err := json.Unmarshal(run.Context, &rc); err != nil || (rc.Scope != ScopeAll && rc.Scope != ScopeTenant) {
		return "", &operations.RunError{Code: operations.ReasonValidationFailed, Message: "The run's context names no scope (all_tenants or single_tenant)."}
	}
	var tenants []tenancy.Tenant
	sc := Scope{All: rc.Scope == ScopeAll, WorkspaceID: run.WorkspaceID}
	if sc.All {
		ts, err := s.ten.TenantsOf(ctx, run.WorkspaceID)
		if err != nil {
			return "", err
		}
		tenants = ts
	} else {
		id, err := uuid.Parse(rc.TargetTenantID)
		if err != nil {
			return "", &operations.RunError{Code: operations.ReasonValidationFailed, Message: "The run's context names no target tenant."}
		}
		t, err := s.ten.Tenant(ctx, id)
		if err != nil || t.WorkspaceID != run.WorkspaceID {
			return "", &operations.RunError{Code: operations.ReasonValidationFailed, Message: "The target tenant is not in the run's workspace."}
		}
		sc.TenantID, tenants = id, []tenancy.Tenant{t}
	}
	if err := rep.Progress(ctx, operations.Counts{"tenants": int64(len(tenants))}); err != nil {
		return "", err
	}
	if err := rep.Flush(ctx); err != nil {
		return "", err
	}
	var sum operations.Counts = operations.Counts{"tenants": int64(len(tenants))}
	failed := 0
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		c, err := s.drift.BackfillLifecycle(ctx, t.ID)
		var delta operations.Counts
		if err != nil {
			failed++
			s.log.Warn("findings lifecycle backfill: tenant failed", "run", run.ID, "tenant", t.ID, "error", operations.Sanitize(err.Error()))
			if err := rep.Fail(ctx, operations.ReasonItemFailed, fmt.Sprintf("Tenant %s (%s): its drift findings could not be backfilled.", t.Name, t.ID)); err != nil {
				return "", err
			}
			delta = operations.Counts{"failed": 1}
		} else {
			delta = operations.Counts{"total": c.Total, "processed": c.Total, "updated": c.Changed, "skipped": c.Total - c.Changed}
		}
		sum = sum.Add(delta)
		if err := rep.Progress(ctx, delta); err != nil {
			return "", err
		}
		if err := rep.Flush(ctx); err != nil {
			return "", err
		}
	}
	d := detail{Runbook: BackfillKey, Scope: rc.Scope, TenantID: sc.TenantID, Affected: sum["updated"], RunID: run.ID,
		PlatformUser: run.Initiator.Name, BreakGlass: run.Initiator.BreakGlass, ReasonCode: rc.ReasonCode, Counts: sum}
	action, outcome := "platform.ops.runbooks.completed", operations.OutcomeSucceeded
	if failed > 0 {
		outcome = operations.OutcomePartiallySucceeded
	}
	if failed > 0 && failed == len(tenants) {
		action, outcome = "platform.ops.runbooks.failed", operations.OutcomeFailed
	}
	actor := run.Initiator.Kind + ":" + run.Initiator.UserID.String()
	if err := s.record(ctx, action, string(outcome), actor, sc, run.Initiator.IP, run.Initiator.UserAgent, rc.ReasonCode, d); err != nil {
		return "", err
	}
	if outcome == operations.OutcomeFailed {
		return "", &operations.RunError{Code: operations.ReasonItemFailed, Message: fmt.Sprintf("Every tenant failed (%d).", failed)}
	}
	return operations.OutcomeSucceeded, nil
}
