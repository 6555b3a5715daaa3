package web

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// scheduleForm is the create/edit form as typed (shown again with its errors).
type scheduleForm struct {
	Name        string
	Cron        string
	Timezone    string
	PolicyTypes map[string]bool
	Retention   string
	Enabled     bool
}

// scheduleRow is a schedule with its times as values (zero: none) for the templates.
type scheduleRow struct {
	backup.Schedule
	Next, Last time.Time
}

func rowOf(sc backup.Schedule) scheduleRow {
	r := scheduleRow{Schedule: sc}
	if sc.NextRunAt != nil {
		r.Next = *sc.NextRunAt
	}
	if sc.LastSlotAt != nil {
		r.Last = *sc.LastSlotAt
	}
	return r
}

// schedulesPage is the data of the schedules template.
type schedulesPage struct {
	Tenant      tenancy.Tenant
	Schedules   []scheduleRow
	CanManage   bool
	Form        scheduleForm
	Errors      map[string]string
	PolicyTypes []string
}

// schedulePage is the data of the schedule template.
type schedulePage struct {
	Tenant      tenancy.Tenant
	Schedule    scheduleRow
	CanManage   bool
	CanRun      bool
	CanRetry    bool
	Nonce       string
	Form        scheduleForm
	Errors      map[string]string
	PolicyTypes []string
	Runs        []runRow
}

// scheduleError maps the errors of the schedule routes: a non-member 404, a member
// without the capability 403, a bad field 422 (naming it), a retry not offered 422.
func scheduleError(err error) error {
	var ve *backup.ValidationError
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "not found")
	case errors.Is(err, tenancy.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "Your role does not allow managing backup schedules.")
	case errors.As(err, &ve):
		return fiber.NewError(fiber.StatusUnprocessableEntity, ve.Error())
	case errors.Is(err, backup.ErrRetryNotOffered):
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Retry is offered only after a failed run of this schedule.")
	}
	return err
}

func formOf(sc backup.Schedule) scheduleForm {
	f := scheduleForm{Name: sc.Name, Cron: sc.Cron, Timezone: sc.Timezone, PolicyTypes: map[string]bool{},
		Retention: strconv.Itoa(sc.Retention), Enabled: sc.Enabled}
	for _, t := range sc.PolicyTypes {
		f.PolicyTypes[t] = true
	}
	return f
}

// readScheduleForm reads the posted form into a ScheduleInput (every field set) and the
// form as typed; a malformed number is a field error.
func readScheduleForm(c *fiber.Ctx) (backup.ScheduleInput, scheduleForm, map[string]string) {
	f := scheduleForm{Name: c.FormValue("name"), Cron: c.FormValue("cron"), Timezone: c.FormValue("timezone"),
		Retention: c.FormValue("retention"), Enabled: c.FormValue("enabled") == "on", PolicyTypes: map[string]bool{}}
	types := []string{}
	args := c.Request().PostArgs()
	for _, v := range args.PeekMulti("policyTypes") {
		t := string(v)
		if !f.PolicyTypes[t] {
			types = append(types, t)
		}
		f.PolicyTypes[t] = true
	}
	in := backup.ScheduleInput{Name: &f.Name, Cron: &f.Cron, Timezone: &f.Timezone, PolicyTypes: &types, Enabled: &f.Enabled}
	bad := map[string]string{}
	if r := strings.TrimSpace(f.Retention); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || len(r) > 6 {
			bad["retention"] = "must be a whole number from 1 to " + strconv.Itoa(backup.MaxRetention)
		} else {
			in.Retention = &n
		}
	}
	return in, f, bad
}

func hubActor(c *fiber.Ctx) backup.Actor {
	in := initiatorOf(c, currentUser(c).ID, "")
	return backup.Actor{ID: "user:" + in.UserID.String(), IP: in.IP, UserAgent: in.UserAgent}
}

// handleAdminSchedules lists a tenant's backup schedules, with the create form for
// members who manage backups.
func (s *Server) handleAdminSchedules(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	return s.renderSchedules(c, t, fiber.StatusOK, scheduleForm{Timezone: "UTC", Retention: strconv.Itoa(backup.DefaultRetention),
		Enabled: true, PolicyTypes: map[string]bool{}}, nil)
}

func (s *Server) renderSchedules(c *fiber.Ctx, t tenancy.Tenant, status int, form scheduleForm, bad map[string]string) error {
	list, err := s.deps.Backup.Schedules(c.UserContext(), t.ID)
	if err != nil {
		return err
	}
	canManage, err := s.can(c, t.ID, tenancy.CapBackupManage)
	if err != nil {
		return err
	}
	rows := make([]scheduleRow, len(list))
	for i, sc := range list {
		rows[i] = rowOf(sc)
	}
	return s.render(c, status, "schedules", page{Title: t.Name + " · Backup schedules", Nav: "backups", Tenant: &t,
		Data: schedulesPage{Tenant: t, Schedules: rows, CanManage: canManage, Form: form, Errors: bad, PolicyTypes: inventory.PolicyTypes}})
}

// can reports whether the signed-in user holds capability on tenantID.
func (s *Server) can(c *fiber.Ctx, tenantID uuid.UUID, capability tenancy.Capability) (bool, error) {
	role, ok, err := s.roleFor(c, tenantID)
	if err != nil || !ok {
		return false, err
	}
	return role.Can(capability), nil
}

// handleAdminScheduleCreate creates a schedule from the form (backup.manage); bad
// fields show the form again with each named (422).
func (s *Server) handleAdminScheduleCreate(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapBackupManage)
	if err != nil {
		return err
	}
	in, form, bad := readScheduleForm(c)
	if len(bad) > 0 {
		return s.renderSchedules(c, t, fiber.StatusUnprocessableEntity, form, bad)
	}
	sc, err := s.deps.Backup.CreateSchedule(c.UserContext(), hubActor(c), t, in)
	var ve *backup.ValidationError
	if errors.As(err, &ve) {
		return s.renderSchedules(c, t, fiber.StatusUnprocessableEntity, form, ve.Fields)
	}
	if err != nil {
		return err
	}
	s.setFlash(c, flash{Kind: "success", Message: "Backup schedule created."})
	return c.Redirect(scheduleURL(sc), fiber.StatusSeeOther)
}

func scheduleURL(sc backup.Schedule) string {
	return "/admin/t/" + sc.TenantID.String() + "/backups/schedules/" + sc.ID.String()
}

// authorizedSchedule authorizes the URL's tenant for capability and loads its :schedule
// (another tenant's schedule is a 404).
func (s *Server) authorizedSchedule(c *fiber.Ctx, capability tenancy.Capability) (tenancy.Tenant, backup.Schedule, error) {
	t, err := s.authorizedTenant(c, capability)
	if err != nil {
		return tenancy.Tenant{}, backup.Schedule{}, err
	}
	id, err := paramUUID(c, "schedule")
	if err != nil {
		return tenancy.Tenant{}, backup.Schedule{}, err
	}
	sc, err := s.deps.Backup.Schedule(c.UserContext(), t.ID, id)
	if err != nil {
		return tenancy.Tenant{}, backup.Schedule{}, err
	}
	return t, sc, nil
}

// handleAdminSchedule shows a schedule: its settings (an edit form for managers), Run
// now and Retry (only after a failed run) with a fresh nonce per page load, and its
// executions from the hub's read model.
func (s *Server) handleAdminSchedule(c *fiber.Ctx) error {
	t, sc, err := s.authorizedSchedule(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	return s.renderSchedule(c, t, sc, fiber.StatusOK, formOf(sc), nil)
}

func (s *Server) renderSchedule(c *fiber.Ctx, t tenancy.Tenant, sc backup.Schedule, status int, form scheduleForm, bad map[string]string) error {
	ctx := c.UserContext()
	data := schedulePage{Tenant: t, Schedule: rowOf(sc), Form: form, Errors: bad, PolicyTypes: inventory.PolicyTypes, Nonce: uuid.NewString()}
	var err error
	if data.CanManage, err = s.can(c, t.ID, tenancy.CapBackupManage); err != nil {
		return err
	}
	if data.CanRun, err = s.canStart(c, t.ID, "backup_schedule.run_now"); err != nil {
		return err
	}
	if ok, err := s.canStart(c, t.ID, "backup_schedule.retry"); err != nil {
		return err
	} else if ok {
		if data.CanRetry, err = s.deps.Backup.LastExecutionFailed(ctx, sc.ID); err != nil {
			return err
		}
	}
	ids, err := s.deps.Backup.ScheduleRunIDs(ctx, sc.ID, 50)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		f := projections.RunFilter{Tenant: t.ID, RunIDs: ids, Limit: 50}
		if err := s.restrictToVisible(c, &f); err != nil {
			return err
		}
		runs, _, err := s.reads().List(ctx, f)
		if err != nil {
			return err
		}
		if data.Runs, err = s.withTenantNames(ctx, runs, &t); err != nil {
			return err
		}
	}
	return s.render(c, status, "schedule", page{Title: t.Name + " · " + sc.Name, Nav: "backups", Tenant: &t, Data: data})
}

// handleAdminScheduleUpdate saves the edit form (backup.manage).
func (s *Server) handleAdminScheduleUpdate(c *fiber.Ctx) error {
	t, sc, err := s.authorizedSchedule(c, tenancy.CapBackupManage)
	if err != nil {
		return err
	}
	in, form, bad := readScheduleForm(c)
	if len(bad) > 0 {
		return s.renderSchedule(c, t, sc, fiber.StatusUnprocessableEntity, form, bad)
	}
	updated, err := s.deps.Backup.UpdateSchedule(c.UserContext(), hubActor(c), t, sc.ID, in)
	var ve *backup.ValidationError
	if errors.As(err, &ve) {
		return s.renderSchedule(c, t, sc, fiber.StatusUnprocessableEntity, form, ve.Fields)
	}
	if err != nil {
		return err
	}
	s.setFlash(c, flash{Kind: "success", Message: "Backup schedule saved."})
	return c.Redirect(scheduleURL(updated), fiber.StatusSeeOther)
}

// handleAdminScheduleToggle enables or disables a schedule (backup.manage).
func (s *Server) handleAdminScheduleToggle(c *fiber.Ctx) error {
	t, sc, err := s.authorizedSchedule(c, tenancy.CapBackupManage)
	if err != nil {
		return err
	}
	var enabled bool
	switch c.FormValue("enabled") {
	case "true":
		enabled = true
	case "false":
	default:
		return fiber.NewError(fiber.StatusUnprocessableEntity, "enabled: must be true or false")
	}
	if _, err := s.deps.Backup.UpdateSchedule(c.UserContext(), hubActor(c), t, sc.ID, backup.ScheduleInput{Enabled: &enabled}); err != nil {
		return scheduleError(err)
	}
	msg := "Backup schedule disabled: it fires no more runs until enabled."
	if enabled {
		msg = "Backup schedule enabled."
	}
	s.setFlash(c, flash{Kind: "success", Message: msg})
	return c.Redirect(scheduleURL(sc), fiber.StatusSeeOther)
}

// handleAdminScheduleStart is the Run now (retry false) or Retry button: the form's
// nonce is the click's identity, so a double-submit of one form is one run.
func (s *Server) handleAdminScheduleStart(retry bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, sc, err := s.authorizedSchedule(c, tenancy.CapBackupManage)
		if err != nil {
			return err
		}
		in, nonce, err := formClick(c)
		if err != nil {
			return err
		}
		out, err := s.deps.Backup.StartNow(c.UserContext(), in, t.ID, sc.ID, nonce, retry)
		if err != nil {
			return scheduleError(err)
		}
		s.flashOutcome(c, out)
		return c.Redirect(scheduleURL(sc), fiber.StatusSeeOther)
	}
}

// formClick is a start form's initiator (the signed-in user) and its nonce, the click's
// identity; a form without a valid nonce is a 422.
func formClick(c *fiber.Ctx) (operations.Initiator, string, error) {
	nonce, err := parseID(c.FormValue("nonce"))
	if err != nil {
		return operations.Initiator{}, "", fiber.NewError(fiber.StatusUnprocessableEntity, "The form has no valid click id; reload the page and try again.")
	}
	u := currentUser(c)
	return initiatorOf(c, u.ID, u.Email), nonce.String(), nil
}

// flashOutcome stores the gate's answer as the next page's flash message: flashOf's
// kind, message and run link, without the verb, reason and actions.
func (s *Server) flashOutcome(c *fiber.Ctx, out operations.StartOutcome) {
	f := flashOf(out)
	s.setFlash(c, flash{Kind: f.Kind, Message: f.Message, Href: f.Href})
}

// scheduleView is a schedule as the API shows it: its id and tenant, its settings
// (backup.ScheduleState, the same JSON fields inline) and where its slots stand.
type scheduleView struct {
	ID       uuid.UUID `json:"id"`
	TenantID uuid.UUID `json:"tenantId"`
	backup.ScheduleState
	NextRunAt    *time.Time `json:"nextRunAt"`
	LastSlotAt   *time.Time `json:"lastSlotAt"`
	SkippedSlots int64      `json:"skippedSlots"`
}

func viewOf(sc backup.Schedule) scheduleView {
	return scheduleView{ID: sc.ID, TenantID: sc.TenantID, ScheduleState: sc.State(),
		NextRunAt: sc.NextRunAt, LastSlotAt: sc.LastSlotAt, SkippedSlots: sc.SkippedSlots}
}
