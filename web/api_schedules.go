package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// scheduleBody is the body of POST and PATCH /api/v1/tenants/{tenant}/backup-schedules:
// on PATCH an absent field is left as it is.
type scheduleBody struct {
	Name        *string   `json:"name"`
	Cron        *string   `json:"cron"`
	Timezone    *string   `json:"timezone"`
	PolicyTypes *[]string `json:"policyTypes"`
	Retention   *int      `json:"retention"`
	Enabled     *bool     `json:"enabled"`
}

// readScheduleBody decodes the body; an unknown field or a field of the wrong type is a
// 422 naming it.
func readScheduleBody(body []byte) (backup.ScheduleInput, error) {
	var b scheduleBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		msg := `body: a JSON object {"cron","timezone","policyTypes","retention","enabled","name"} is expected`
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" && len(te.Field) < 40 {
			msg = te.Field + ": must be " + map[string]string{"name": "a string", "cron": "a string", "timezone": "a string",
				"policyTypes": "an array of strings", "retention": "a whole number", "enabled": "true or false"}[strings.Split(te.Field, ".")[0]]
		} else if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok && len(f) < 60 {
			msg = strings.Trim(f, `"`) + ": unknown field"
		}
		return backup.ScheduleInput{}, fiber.NewError(fiber.StatusUnprocessableEntity, msg)
	}
	if !atEOF(dec) {
		return backup.ScheduleInput{}, fiber.NewError(fiber.StatusUnprocessableEntity, "body: a single JSON object is expected")
	}
	return backup.ScheduleInput{Name: b.Name, Cron: b.Cron, Timezone: b.Timezone, PolicyTypes: b.PolicyTypes, Retention: b.Retention, Enabled: b.Enabled}, nil
}

// handleAPISchedules lists a tenant's backup schedules (operations.view).
func (s *Server) handleAPISchedules(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return scheduleError(err)
	}
	list, err := s.deps.Backup.Schedules(c.UserContext(), t.ID)
	if err != nil {
		return err
	}
	out := make([]scheduleView, len(list))
	for i, sc := range list {
		out[i] = viewOf(sc)
	}
	return c.JSON(fiber.Map{"schedules": out})
}

// handleAPIScheduleCreate creates a backup schedule (backup.manage): 201 with it, 422
// naming a bad field.
func (s *Server) handleAPIScheduleCreate(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapBackupManage)
	if err != nil {
		return scheduleError(err)
	}
	in, err := readScheduleBody(c.Body())
	if err != nil {
		return err
	}
	sc, err := s.deps.Backup.CreateSchedule(c.UserContext(), hubActor(c), t, in)
	if err != nil {
		return scheduleError(err)
	}
	return c.Status(fiber.StatusCreated).JSON(viewOf(sc))
}

// handleAPISchedule answers one schedule (operations.view).
func (s *Server) handleAPISchedule(c *fiber.Ctx) error {
	_, sc, err := s.authorizedSchedule(c, tenancy.CapOperationsView)
	if err != nil {
		return scheduleError(err)
	}
	return c.JSON(viewOf(sc))
}

// handleAPIScheduleUpdate changes a schedule (backup.manage): the fields given.
func (s *Server) handleAPIScheduleUpdate(c *fiber.Ctx) error {
	t, sc, err := s.authorizedSchedule(c, tenancy.CapBackupManage)
	if err != nil {
		return scheduleError(err)
	}
	in, err := readScheduleBody(c.Body())
	if err != nil {
		return err
	}
	updated, err := s.deps.Backup.UpdateSchedule(c.UserContext(), hubActor(c), t, sc.ID, in)
	if err != nil {
		return scheduleError(err)
	}
	return c.JSON(viewOf(updated))
}
