package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

// The scheduler. Every `atlas serve` and `atlas worker` process runs it; they need no
// leader. Each tick reads the enabled schedules whose next slot is due and, for each,
// starts backup_schedule.scheduled through the start gate with the identity (schedule
// id, slot): unique forever, so however many processes fire the same slot, and
// whether it was accepted, blocked or failed at dispatch, it is one run. It then
// advances the schedule's next slot with a compare-and-set on the old one, so only one
// process advances it (and records what it skipped).
//
// Catch-up after downtime: only the latest slot due is fired; the older ones missed
// are skipped and recorded once (BackupScheduleSlotsSkipped with their count, first and
// last, and the schedule's skipped_slots counter). A disabled schedule's slots are not
// missed: enabling it computes the next slot from then.

// maxSkipCount bounds how many skipped slots are counted one by one.
const maxSkipCount = 10_000

// schedulerBatch is how many due schedules one tick handles (the next tick continues).
const schedulerBatch = 100

// RunScheduler fires due schedules every interval until ctx ends.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("backup scheduler tick failed", "error", operations.Sanitize(err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick fires every schedule due now (the service's clock) once and returns how many
// slots it started (accepted, or ended at the gate); a slot another process fired is
// not counted.
func (s *Service) Tick(ctx context.Context) (int, error) {
	if s.ops == nil {
		return 0, errNoEvents
	}
	now := s.now().UTC()
	rows, err := s.pool.Query(ctx, `SELECT `+scheduleColumns+` FROM bk_schedules WHERE enabled AND next_run_at <= $1
		ORDER BY next_run_at LIMIT $2`, now, schedulerBatch)
	if err != nil {
		return 0, fmt.Errorf("backup: due schedules: %w", err)
	}
	due, err := pgx.CollectRows(rows, scanSchedule)
	if err != nil {
		return 0, fmt.Errorf("backup: due schedules: %w", err)
	}
	started := 0
	var errs []error
	for _, sc := range due {
		n, err := s.fire(ctx, sc, now)
		started += n
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", sc.ID, err))
		}
	}
	return started, errors.Join(errs...)
}

// fire starts sc's latest due slot and advances the schedule past now.
func (s *Service) fire(ctx context.Context, sc Schedule, now time.Time) (int, error) {
	c, err := ParseCron(sc.Cron)
	if err != nil {
		return 0, err
	}
	loc, err := LoadZone(sc.Timezone)
	if err != nil {
		return 0, err
	}
	from := *sc.NextRunAt
	latest := latestSlot(c, loc, from, now)
	var skipped int64
	atLeast := false
	last := from
	for t := from; t.Before(latest); t = c.Next(t, loc) {
		if skipped == maxSkipCount {
			atLeast = true
			last = prevSlot(c, loc, from, latest)
			break
		}
		skipped++
		last = t
	}
	out, err := s.ops.Start(ctx, operations.StartRequest{Type: "backup_schedule.scheduled", TenantID: sc.TenantID,
		Context: scheduleContext(sc.ID), ScheduleID: sc.ID, ScheduledFor: latest,
		Initiator: operations.Initiator{Kind: "system", Name: "scheduler"}, SourceSurface: "scheduler"})
	if err != nil {
		return 0, fmt.Errorf("start: %w", err)
	}
	n := 0
	if out.Status != operations.StartDeduped {
		n = 1
	}
	if out.Run != nil && out.Status != operations.StartScopeBusy {
		if err := s.recordScheduleRun(ctx, sc.ID, out.Run.ID, "backup_schedule.scheduled", &latest); err != nil {
			return n, err
		}
	}
	if out.Status == operations.StartScopeBusy {
		// Another provider-backed run holds the tenant: the slot was not taken; the
		// next tick tries it again.
		return n, nil
	}
	next := c.Next(latest, loc)
	var nextAt *time.Time
	if !next.IsZero() {
		nextAt = &next
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var version int64
		err := tx.QueryRow(ctx, `SELECT version FROM bk_schedules WHERE schedule_id = $1 AND enabled AND next_run_at = $2 FOR UPDATE`,
			sc.ID, from).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another process advanced it, or it was edited meanwhile
		}
		if err != nil {
			return err
		}
		if skipped > 0 {
			ev := BackupScheduleSlotsSkipped{ScheduleID: sc.ID, Fired: latest, Skipped: skipped, First: from.UTC(), Last: last.UTC(), AtLeast: atLeast}
			meta := eventstore.Metadata{Actor: "system:scheduler", WorkspaceID: sc.WorkspaceID, TenantID: sc.TenantID}
			if _, err := s.store.AppendTx(ctx, tx, ScheduleStream(sc.ID), version, eventstore.NewEvent{Data: ev, Metadata: meta}); err != nil {
				return fmt.Errorf("skipped slots event: %w", err)
			}
			version++
		}
		_, err = tx.Exec(ctx, `UPDATE bk_schedules SET next_run_at = $2, last_slot_at = $3, skipped_slots = skipped_slots + $4, version = $5
			WHERE schedule_id = $1`, sc.ID, nextAt, latest, skipped, version)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("advance: %w", err)
	}
	return n, nil
}

// latestSlot is the latest slot at or before now, not before from (a slot itself, due).
// It looks back from now in growing steps, so a schedule down for a long time costs a
// few Next calls, not one per missed slot.
func latestSlot(c Cron, loc *time.Location, from, now time.Time) time.Time {
	for back := time.Minute; ; back *= 4 {
		p := now.Add(-back)
		if !p.After(from) {
			p = from.Add(-time.Nanosecond)
		}
		n := c.Next(p, loc)
		if !n.IsZero() && !n.After(now) {
			for {
				m := c.Next(n, loc)
				if m.IsZero() || m.After(now) {
					return n
				}
				n = m
			}
		}
		if !p.After(from) {
			return from
		}
	}
}

// prevSlot is the last slot before latest, starting at from (from < latest).
func prevSlot(c Cron, loc *time.Location, from, latest time.Time) time.Time {
	prev := from
	for back := time.Minute; ; back *= 4 {
		p := latest.Add(-back)
		if !p.After(from) {
			p = from
		}
		if n := c.Next(p, loc); n.Before(latest) {
			prev = n
			for {
				m := c.Next(prev, loc)
				if !m.Before(latest) {
					return prev
				}
				prev = m
			}
		}
		if !p.After(from) {
			return prev
		}
	}
}
