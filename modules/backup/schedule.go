package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// DefaultRetention is how many backup sets a schedule keeps when none is given.
const DefaultRetention = 7

// MaxRetention bounds a schedule's retention.
const MaxRetention = 1000

// Schedule is one backup schedule of a tenant.
type Schedule struct {
	ID          uuid.UUID
	WorkspaceID uuid.UUID
	TenantID    uuid.UUID
	Name        string
	Cron        string
	Timezone    string
	PolicyTypes []string
	// Retention is how many of the schedule's newest backup sets are kept.
	Retention int
	Enabled   bool
	// NextRunAt is the next slot; nil while disabled.
	NextRunAt *time.Time
	// LastSlotAt is the slot the scheduler fired last; nil before the first.
	LastSlotAt *time.Time
	// SkippedSlots counts the slots the scheduler skipped after downtime.
	SkippedSlots int64
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ScheduleState is a schedule's settings as its events and audit entries record them
// (before/after).
type ScheduleState struct {
	Name        string   `json:"name"`
	Cron        string   `json:"cron"`
	Timezone    string   `json:"timezone"`
	PolicyTypes []string `json:"policyTypes"`
	Retention   int      `json:"retention"`
	Enabled     bool     `json:"enabled"`
}

// State returns the schedule's settings.
func (sc Schedule) State() ScheduleState {
	return ScheduleState{Name: sc.Name, Cron: sc.Cron, Timezone: sc.Timezone, PolicyTypes: sc.PolicyTypes,
		Retention: sc.Retention, Enabled: sc.Enabled}
}

// ScheduleInput creates a schedule or changes one: a nil field is left as it is (on
// create: its default; Cron, Timezone and PolicyTypes are required).
type ScheduleInput struct {
	Name        *string
	Cron        *string
	Timezone    *string
	PolicyTypes *[]string
	Retention   *int
	Enabled     *bool
}

// ValidationError names each bad field of a schedule ("cron", "timezone", …).
type ValidationError struct {
	// Fields maps each bad field to what is wrong with it.
	Fields map[string]string
}

// Error implements error: "cron: …; timezone: …", fields sorted.
func (e *ValidationError) Error() string {
	return failure.FieldList(e.Fields)
}

// Actor is who changes a schedule, for its events and audit entries.
type Actor struct {
	// ID is "user:<uuid>" or "system:<name>".
	ID        string
	IP        string
	UserAgent string
}

// BackupScheduleCreated records a new schedule.
type BackupScheduleCreated struct {
	ScheduleID  uuid.UUID     `json:"scheduleId"`
	WorkspaceID uuid.UUID     `json:"workspaceId"`
	TenantID    uuid.UUID     `json:"tenantId"`
	After       ScheduleState `json:"after"`
	At          time.Time     `json:"at"`
}

// EventType implements eventstore.Event.
func (BackupScheduleCreated) EventType() string { return "BackupScheduleCreated" }

// BackupScheduleChanged records an edit, enable or disable of a schedule.
type BackupScheduleChanged struct {
	ScheduleID uuid.UUID     `json:"scheduleId"`
	Before     ScheduleState `json:"before"`
	After      ScheduleState `json:"after"`
	At         time.Time     `json:"at"`
}

// EventType implements eventstore.Event.
func (BackupScheduleChanged) EventType() string { return "BackupScheduleChanged" }

// BackupScheduleSlotsSkipped records slots the scheduler did not fire after downtime:
// it fired only Fired, the latest slot due, and skipped Skipped older ones (First..Last).
type BackupScheduleSlotsSkipped struct {
	ScheduleID uuid.UUID `json:"scheduleId"`
	Fired      time.Time `json:"fired"`
	Skipped    int64     `json:"skipped"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	// AtLeast says the count stopped at maxSkipCount: more slots were skipped.
	AtLeast bool `json:"atLeast,omitempty"`
}

// EventType implements eventstore.Event.
func (BackupScheduleSlotsSkipped) EventType() string { return "BackupScheduleSlotsSkipped" }

// RegisterEvents registers the backup module's events.
func RegisterEvents(r *eventstore.Registry) {
	r.Register(BackupScheduleCreated{}, 1)
	r.Register(BackupScheduleChanged{}, 1)
	r.Register(BackupScheduleSlotsSkipped{}, 1)
}

// ScheduleStream is the stream of a schedule's events.
func ScheduleStream(id uuid.UUID) eventstore.StreamID { return eventstore.NewStreamID("schedule", id) }

// errNoEvents says the service was built without its event store (a read-only service).
var errNoEvents = errors.New("backup: schedules need the event store (Service.Wire)")

// Wire gives the service what schedules need: the event store and audit recorder for
// their changes, the start gate for their runs and the inventory for their policies.
func (s *Service) Wire(store *eventstore.Store, rec *audit.Recorder, ops *operations.Service, inv *inventory.Service) {
	s.store, s.audit, s.ops, s.inv = store, rec, ops, inv
}

// SetClock replaces the service's clock (tests: the scheduler's now).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// apply checks in and applies it to sc (create when fresh), returning field errors.
func (in ScheduleInput) apply(sc *Schedule, fresh bool) error {
	bad := map[string]string{}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		switch {
		case utf8.RuneCountInString(name) > 200:
			bad["name"] = "at most 200 characters"
		case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			bad["name"] = "must be plain text"
		default:
			sc.Name = name
		}
	}
	if in.Cron != nil {
		c, err := ParseCron(*in.Cron)
		if err != nil {
			bad["cron"] = err.Error()
		} else {
			sc.Cron = c.String()
		}
	} else if fresh {
		bad["cron"] = "required (five fields: minute hour day-of-month month day-of-week)"
	}
	if in.Timezone != nil {
		tz := strings.TrimSpace(*in.Timezone)
		if _, err := LoadZone(tz); err != nil {
			bad["timezone"] = err.Error()
		} else {
			sc.Timezone = tz
		}
	} else if fresh {
		bad["timezone"] = "required (an IANA time zone such as Europe/Berlin)"
	}
	if in.PolicyTypes != nil {
		types := slices.Clone(*in.PolicyTypes)
		sort.Strings(types)
		switch {
		case len(types) == 0:
			bad["policyTypes"] = "name at least one policy type"
		case len(slices.Compact(slices.Clone(types))) != len(types):
			bad["policyTypes"] = "a policy type is named twice"
		default:
			for _, t := range types {
				if !inventory.IsPolicyType(t) {
					bad["policyTypes"] = "each must be one of " + strings.Join(inventory.PolicyTypes, ", ")
					break
				}
			}
		}
		if bad["policyTypes"] == "" {
			sc.PolicyTypes = types
		}
	} else if fresh {
		bad["policyTypes"] = "required: name at least one policy type"
	}
	if in.Retention != nil {
		if *in.Retention < 1 || *in.Retention > MaxRetention {
			bad["retention"] = fmt.Sprintf("must be a whole number from 1 to %d", MaxRetention)
		} else {
			sc.Retention = *in.Retention
		}
	}
	if in.Enabled != nil {
		sc.Enabled = *in.Enabled
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}

// LoadZone loads an IANA time zone by name; "" and "Local" are refused (a schedule
// names its zone).
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, errors.New("must be an IANA time zone such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("must be an IANA time zone such as Europe/Berlin")
	}
	return loc, nil
}

// nextSlot is sc's next slot after t (nil while disabled).
func (sc Schedule) nextSlot(after time.Time) *time.Time {
	if !sc.Enabled {
		return nil
	}
	c, err := ParseCron(sc.Cron)
	if err != nil {
		return nil
	}
	loc, err := LoadZone(sc.Timezone)
	if err != nil {
		return nil
	}
	n := c.Next(after, loc).UTC()
	if n.IsZero() {
		return nil
	}
	return &n
}

// CreateSchedule creates a schedule of tenant t (the caller authorized backup.manage):
// BackupScheduleCreated and an audit entry with the settings after. A bad field is a
// *ValidationError naming it.
func (s *Service) CreateSchedule(ctx context.Context, actor Actor, t tenancy.Tenant, in ScheduleInput) (Schedule, error) {
	if s.store == nil {
		return Schedule{}, errNoEvents
	}
	now := s.now().UTC()
	id, err := uuid.NewV7()
	if err != nil {
		return Schedule{}, fmt.Errorf("backup: schedule id: %w", err)
	}
	sc := Schedule{ID: id, WorkspaceID: t.WorkspaceID, TenantID: t.ID, Name: "Backup schedule", Retention: DefaultRetention,
		Enabled: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := in.apply(&sc, true); err != nil {
		return Schedule{}, err
	}
	sc.NextRunAt = sc.nextSlot(now)
	after := sc.State()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO bk_schedules (schedule_id, workspace_id, tenant_id, name, cron, timezone, policy_types,
			retention, enabled, next_run_at, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
			sc.ID, sc.WorkspaceID, sc.TenantID, sc.Name, sc.Cron, sc.Timezone, sc.PolicyTypes, sc.Retention, sc.Enabled, sc.NextRunAt, sc.Version, now); err != nil {
			return fmt.Errorf("backup: insert schedule: %w", err)
		}
		return s.recordChange(ctx, tx, actor, sc, eventstore.NoStream, BackupScheduleCreated{ScheduleID: sc.ID, WorkspaceID: sc.WorkspaceID,
			TenantID: sc.TenantID, After: after, At: now}, "backup_schedule.create", nil, after)
	})
	if err != nil {
		return Schedule{}, err
	}
	return sc, nil
}

// UpdateSchedule changes schedule id of tenant t (another tenant's schedule is
// ErrNotFound): BackupScheduleChanged and an audit entry with before and after. A
// changed cron, zone or a re-enable computes the next slot from now (no catch-up of
// the time it was off); an unchanged input records nothing.
func (s *Service) UpdateSchedule(ctx context.Context, actor Actor, t tenancy.Tenant, id uuid.UUID, in ScheduleInput) (Schedule, error) {
	if s.store == nil {
		return Schedule{}, errNoEvents
	}
	var out Schedule
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sc, err := s.scheduleWhere(ctx, tx, `schedule_id = $1 AND tenant_id = $2 FOR UPDATE`, id, t.ID)
		if err != nil {
			return err
		}
		before := sc.State()
		next := sc
		if err := in.apply(&next, false); err != nil {
			return err
		}
		after := next.State()
		if equalState(before, after) {
			out = sc
			return nil
		}
		now := s.now().UTC()
		if next.Cron != sc.Cron || next.Timezone != sc.Timezone || next.Enabled != sc.Enabled {
			next.NextRunAt = next.nextSlot(now)
		}
		next.UpdatedAt = now
		next.Version = sc.Version + 1
		if _, err := tx.Exec(ctx, `UPDATE bk_schedules SET name = $2, cron = $3, timezone = $4, policy_types = $5, retention = $6,
			enabled = $7, next_run_at = $8, version = $9, updated_at = $10 WHERE schedule_id = $1`,
			sc.ID, next.Name, next.Cron, next.Timezone, next.PolicyTypes, next.Retention, next.Enabled, next.NextRunAt, next.Version, now); err != nil {
			return fmt.Errorf("backup: update schedule: %w", err)
		}
		action := "backup_schedule.update"
		switch {
		case sc.Enabled && !next.Enabled:
			action = "backup_schedule.disable"
		case !sc.Enabled && next.Enabled:
			action = "backup_schedule.enable"
		}
		out = next
		return s.recordChange(ctx, tx, actor, next, sc.Version, BackupScheduleChanged{ScheduleID: sc.ID, Before: before, After: after, At: now},
			action, &before, after)
	})
	if err != nil {
		return Schedule{}, err
	}
	return out, nil
}

func equalState(a, b ScheduleState) bool {
	return a.Name == b.Name && a.Cron == b.Cron && a.Timezone == b.Timezone && slices.Equal(a.PolicyTypes, b.PolicyTypes) &&
		a.Retention == b.Retention && a.Enabled == b.Enabled
}

// recordChange appends the schedule's event at expected and its audit entry.
func (s *Service) recordChange(ctx context.Context, tx pgx.Tx, actor Actor, sc Schedule, expected int64, ev eventstore.Event,
	action string, before *ScheduleState, after ScheduleState) error {
	meta := eventstore.Metadata{Actor: actor.ID, WorkspaceID: sc.WorkspaceID, TenantID: sc.TenantID}
	if _, err := s.store.AppendTx(ctx, tx, ScheduleStream(sc.ID), expected, eventstore.NewEvent{Data: ev, Metadata: meta}); err != nil {
		return fmt.Errorf("backup: schedule event: %w", err)
	}
	entry := audit.AuditRecorded{Action: action, Outcome: "succeeded", Actor: actor.ID, WorkspaceID: sc.WorkspaceID, TenantID: sc.TenantID,
		Target: "backup_schedule:" + sc.ID.String(), IP: actor.IP, UserAgent: actor.UserAgent}
	var err error
	if before != nil {
		if entry.Before, err = json.Marshal(before); err != nil {
			return fmt.Errorf("backup: audit before: %w", err)
		}
	}
	if entry.After, err = json.Marshal(after); err != nil {
		return fmt.Errorf("backup: audit after: %w", err)
	}
	return s.audit.RecordTx(ctx, tx, entry)
}

const scheduleColumns = `schedule_id, workspace_id, tenant_id, name, cron, timezone, policy_types, retention, enabled,
	next_run_at, last_slot_at, skipped_slots, version, created_at, updated_at`

func scanSchedule(r pgx.CollectableRow) (Schedule, error) {
	var sc Schedule
	err := r.Scan(&sc.ID, &sc.WorkspaceID, &sc.TenantID, &sc.Name, &sc.Cron, &sc.Timezone, &sc.PolicyTypes, &sc.Retention, &sc.Enabled,
		&sc.NextRunAt, &sc.LastSlotAt, &sc.SkippedSlots, &sc.Version, &sc.CreatedAt, &sc.UpdatedAt)
	for _, p := range []**time.Time{&sc.NextRunAt, &sc.LastSlotAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	sc.CreatedAt, sc.UpdatedAt = sc.CreatedAt.UTC(), sc.UpdatedAt.UTC()
	return sc, err
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Service) scheduleWhere(ctx context.Context, q querier, where string, args ...any) (Schedule, error) {
	rows, err := q.Query(ctx, `SELECT `+scheduleColumns+` FROM bk_schedules WHERE `+where, args...)
	if err != nil {
		return Schedule{}, fmt.Errorf("backup: schedule: %w", err)
	}
	sc, err := pgx.CollectExactlyOneRow(rows, scanSchedule)
	if errors.Is(err, pgx.ErrNoRows) {
		return Schedule{}, fmt.Errorf("backup: schedule: %w", ErrNotFound)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("backup: schedule: %w", err)
	}
	return sc, nil
}

// Schedule returns schedule id of tenant tenantID, or ErrNotFound (also for another
// tenant's schedule).
func (s *Service) Schedule(ctx context.Context, tenantID, id uuid.UUID) (Schedule, error) {
	return s.scheduleWhere(ctx, s.pool, `schedule_id = $1 AND tenant_id = $2`, id, tenantID)
}

// Schedules lists a tenant's schedules, oldest first (at most 200).
func (s *Service) Schedules(ctx context.Context, tenantID uuid.UUID) ([]Schedule, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scheduleColumns+` FROM bk_schedules WHERE tenant_id = $1 ORDER BY created_at, schedule_id LIMIT 200`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("backup: schedules: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSchedule)
	if err != nil {
		return nil, fmt.Errorf("backup: schedules: %w", err)
	}
	return out, nil
}

// recordScheduleRun remembers that run belongs to schedule (idempotent).
func (s *Service) recordScheduleRun(ctx context.Context, scheduleID, runID uuid.UUID, runType string, scheduledFor *time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO bk_schedule_runs (run_id, schedule_id, run_type, scheduled_for, recorded_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id) DO NOTHING`, runID, scheduleID, runType, scheduledFor, s.now().UTC())
	if err != nil {
		return fmt.Errorf("backup: schedule run: %w", err)
	}
	return nil
}

// ScheduleRunIDs returns the ids of a schedule's runs, newest first (limit 1..200).
func (s *Service) ScheduleRunIDs(ctx context.Context, scheduleID uuid.UUID, limit int) ([]uuid.UUID, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT run_id FROM bk_schedule_runs WHERE schedule_id = $1 ORDER BY recorded_at DESC, run_id DESC LIMIT $2`,
		scheduleID, limit)
	if err != nil {
		return nil, fmt.Errorf("backup: schedule runs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("backup: schedule runs: %w", err)
	}
	return ids, nil
}

// LastExecutionFailed reports whether the schedule's newest run ended failed or
// blocked (the run's own stream decides): what offers Retry.
func (s *Service) LastExecutionFailed(ctx context.Context, scheduleID uuid.UUID) (bool, error) {
	ids, err := s.ScheduleRunIDs(ctx, scheduleID, 1)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	run, err := s.ops.Load(ctx, ids[0])
	if err != nil {
		return false, fmt.Errorf("backup: last execution: %w", err)
	}
	return run.Status == operations.StatusCompleted && run.Bucket() == operations.BucketFailed, nil
}

// ErrRetryNotOffered: Retry is offered only while the schedule's last run failed.
var ErrRetryNotOffered = errors.New("backup: retry is offered only after a failed run")

// StartNow starts a run now of schedule id (run_now, or retry when retry is set) as
// initiator through the start gate; nonce is the click's (the form's hidden field): two
// clicks are two runs, a double-submit of one form one. The gate authorizes the
// initiator (backup.manage).
func (s *Service) StartNow(ctx context.Context, initiator operations.Initiator, tenantID, id uuid.UUID, nonce string, retry bool) (operations.StartOutcome, error) {
	return s.StartNowFrom(ctx, "web", initiator, tenantID, id, nonce, retry)
}

// StartNowFrom is StartNow recording source as the run's source surface (StartNow:
// "web", the schedule's page; the demo seed: "demo").
func (s *Service) StartNowFrom(ctx context.Context, source string, initiator operations.Initiator, tenantID, id uuid.UUID, nonce string, retry bool) (operations.StartOutcome, error) {
	if s.ops == nil {
		return operations.StartOutcome{}, errNoEvents
	}
	sc, err := s.Schedule(ctx, tenantID, id)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	typ := "backup_schedule.run_now"
	if retry {
		typ = "backup_schedule.retry"
	}
	req := operations.StartRequest{Type: typ, TenantID: sc.TenantID, Context: scheduleContext(sc.ID),
		Initiator: initiator, SourceSurface: source, Nonce: nonce}
	if retry {
		// Authorize first (a refused member learns nothing of the schedule's runs).
		if err := s.checkRetry(ctx, req, sc); err != nil {
			return operations.StartOutcome{}, err
		}
	}
	out, err := s.ops.Start(ctx, req)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	if out.Run != nil && out.Status != operations.StartScopeBusy {
		if err := s.recordScheduleRun(ctx, sc.ID, out.Run.ID, typ, nil); err != nil {
			return operations.StartOutcome{}, err
		}
	}
	return out, nil
}

// checkRetry refuses a retry unless the last run failed; a deduped double-submit of a
// retry already made passes (its run is the last one now).
func (s *Service) checkRetry(ctx context.Context, req operations.StartRequest, sc Schedule) error {
	failed, err := s.LastExecutionFailed(ctx, sc.ID)
	if err != nil || failed {
		return err
	}
	ids, err := s.ScheduleRunIDs(ctx, sc.ID, 1)
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		run, err := s.ops.Load(ctx, ids[0])
		if err == nil && run.Type == req.Type && run.Status != operations.StatusCompleted {
			return nil // a retry is under way: the gate dedupes this click's second submit
		}
	}
	return ErrRetryNotOffered
}

func scheduleContext(id uuid.UUID) json.RawMessage {
	return json.RawMessage(`{"scheduleId":"` + id.String() + `"}`)
}
