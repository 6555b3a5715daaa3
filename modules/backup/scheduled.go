package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/modules/operations"
)

// ScheduleRunTypes are the run types of a schedule, all worked by RunSchedule.
var ScheduleRunTypes = []string{"backup_schedule.retry", "backup_schedule.run_now", "backup_schedule.scheduled"}

// RunSchedule is the handler of a schedule's runs (scheduled, run now, retry): it backs
// up the tenant's policies of the schedule's types listed by the latest complete
// inventory snapshot into a new set of the schedule, then keeps the schedule's newest
// Retention sets and deletes the older ones (counted as "deleted"). Without an
// inventory snapshot the run fails (validation_failed: run an inventory sync first);
// with no policy of those types it succeeds with nothing captured and no set.
func (s *Service) RunSchedule(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
	var c struct {
		ScheduleID uuid.UUID `json:"scheduleId"`
	}
	if err := json.Unmarshal(run.Context, &c); err != nil || c.ScheduleID == uuid.Nil {
		return "", &operations.RunError{Code: operations.ReasonValidationFailed, Message: "The run does not name its backup schedule."}
	}
	sc, err := s.Schedule(ctx, run.TenantID, c.ScheduleID)
	if errors.Is(err, ErrNotFound) {
		return "", &operations.RunError{Code: operations.ReasonValidationFailed, Message: "The backup schedule no longer exists."}
	}
	if err != nil {
		return "", err
	}
	if err := s.recordScheduleRun(ctx, sc.ID, run.ID, run.Type, nil); err != nil {
		return "", err
	}
	policies, err := s.schedulePolicies(ctx, sc)
	if err != nil {
		return "", err
	}
	if len(policies) == 0 {
		if err := rep.Progress(ctx, operations.Counts{"total": 0}); err != nil {
			return "", err
		}
		return operations.OutcomeSucceeded, nil
	}
	name := sc.Name
	if loc, err := LoadZone(sc.Timezone); err == nil {
		name += " · " + s.now().In(loc).Format("2006-01-02 15:04 MST")
	}
	return s.capture(ctx, run, rep, name, policies, &sc)
}

// schedulePolicies lists the policies of the schedule's types in the tenant's latest
// complete inventory snapshot.
func (s *Service) schedulePolicies(ctx context.Context, sc Schedule) ([]PolicyRef, error) {
	snaps, err := s.inv.LatestComplete(ctx, sc.TenantID, 1)
	if err != nil {
		return nil, fmt.Errorf("backup: latest inventory: %w", err)
	}
	if len(snaps) == 0 {
		return nil, &operations.RunError{Code: operations.ReasonValidationFailed,
			Message: "The tenant has no complete inventory snapshot yet: run an inventory sync first."}
	}
	items, err := s.inv.AllItems(ctx, snaps[0].ID)
	if err != nil {
		return nil, fmt.Errorf("backup: inventory items: %w", err)
	}
	want := map[string]bool{}
	for _, t := range sc.PolicyTypes {
		want[t] = true
	}
	var out []PolicyRef
	for _, it := range items {
		if want[it.PolicyType] {
			out = append(out, PolicyRef{Type: it.PolicyType, ID: it.PolicyID})
		}
	}
	return out, nil
}

// retain deletes the schedule's sealed sets beyond its newest keep (items first), in
// one transaction allowed to delete sealed sets (atlas.backup_retention), and returns
// how many sets went.
func (s *Service) retain(ctx context.Context, scheduleID uuid.UUID, keep int) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL atlas.backup_retention = 'on'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT set_id FROM bk_sets WHERE schedule_id = $1 AND sealed_at IS NOT NULL
			ORDER BY created_at DESC, set_id DESC OFFSET $2 FOR UPDATE`, scheduleID, keep)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM bk_items WHERE set_id = ANY($1)`, ids); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM bk_sets WHERE set_id = ANY($1)`, ids)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("backup: retention: %w", err)
	}
	return n, nil
}
