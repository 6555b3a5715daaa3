package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/restore"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// restoreRefusal maps the restore module's refusals to a 422 with its reason code and
// the operator's words; false for any other error.
func restoreRefusal(err error) (code, msg string, ok bool) {
	switch {
	case errors.Is(err, restore.ErrConfirmation):
		return "restore_confirmation_mismatch", "Type the tenant's name exactly to confirm the restore.", true
	case errors.Is(err, restore.ErrHighRisk):
		return "restore_high_risk_disabled", "This restore holds high-risk policy types (" + joinTypes(restore.HighRiskTypes) +
			"), which are preview-only until a workspace owner enables high-risk restores.", true
	case errors.Is(err, restore.ErrNotPreviewed):
		return "restore_not_previewed", "The restore's preview has not finished; wait for it (or create the restore again if it failed).", true
	case errors.Is(err, restore.ErrAlreadyExecuted):
		return "restore_already_executed", "This restore was executed already; create a new restore from the backup set to run it again.", true
	case errors.Is(err, restore.ErrSetNotSealed):
		return "backup_set_not_sealed", "The backup set is still being captured; restore it once it is sealed.", true
	}
	return "", "", false
}

func joinTypes(ts []string) string {
	var b bytes.Buffer
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t)
	}
	return b.String()
}

// restoreAPIError answers a restore error on the API: a refusal is 422 with its code,
// an unknown restore or set 404, anything else goes to the error handler.
func restoreAPIError(c *fiber.Ctx, err error) error {
	if code, msg, ok := restoreRefusal(err); ok {
		return c.Status(fiber.StatusUnprocessableEntity).JSON(apiError{Error: apiErrorBody{Code: code, Message: msg}})
	}
	if errors.Is(err, restore.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return err
}

// restoreAuthError maps an authorization answer to 404 (not a member, unknown tenant or
// restore) or 403 (a member whose role may not restore); other errors pass.
func restoreAuthError(err error) error {
	switch {
	case errors.Is(err, tenancy.ErrNotFound), errors.Is(err, restore.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "not found")
	case errors.Is(err, tenancy.ErrForbidden), errors.Is(err, operations.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "Your role does not allow restores.")
	}
	return err
}

// restoreView is a restore as the API shows it: the preview (per-item diff) and, once
// executed, each item's result.
type restoreView struct {
	restore.Restore
	URL     string                   `json:"url"`
	Preview []restore.Item           `json:"preview"`
	Start   *operations.StartOutcome `json:"start,omitempty"`
}

func (s *Server) viewOfRestore(c *fiber.Ctx, r restore.Restore) (restoreView, error) {
	items, err := s.deps.Restore.Items(c.UserContext(), r.ID)
	if err != nil {
		return restoreView{}, err
	}
	return restoreView{Restore: r, URL: restoreURL(r.TenantID, r.ID), Preview: items}, nil
}

func restoreURL(tenantID, id uuid.UUID) string {
	return "/admin/t/" + tenantID.String() + "/restores/" + id.String()
}

// atEOF reports whether nothing but space follows the value dec decoded (Decoder.More
// misses a stray ] or } after it).
func atEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// decodeStrict decodes a single JSON object with only the fields of v.
func decodeStrict(body []byte, v any, shape string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || !atEOF(dec) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "body: a JSON object "+shape+" is expected")
	}
	return nil
}

// handleAPIRestoreCreate creates a restore of a sealed backup set (restore.execute) and
// starts its preview: 201 with the restore, its (pending) preview and the preview's
// start outcome.
func (s *Server) handleAPIRestoreCreate(c *fiber.Ctx) error {
	if s.deps.Restore == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	t, err := s.authorizedTenant(c, tenancy.CapRestoreExecute)
	if err != nil {
		return restoreAuthError(err)
	}
	var body struct {
		BackupSetID string `json:"backupSetId"`
	}
	if err := decodeStrict(c.Body(), &body, `{"backupSetId"}`); err != nil {
		return err
	}
	setID, err := parseID(body.BackupSetID)
	if err != nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "backupSetId: must be a backup set id")
	}
	u := currentUser(c)
	r, out, err := s.deps.Restore.Create(c.UserContext(), initiatorOf(c, u.ID, u.Email), t.ID, setID, "api")
	if errors.Is(err, restore.ErrNotFound) {
		return c.Status(fiber.StatusUnprocessableEntity).JSON(apiError{Error: apiErrorBody{Code: "unprocessable", Message: "backupSetId: no such backup set in this tenant"}})
	}
	if err != nil {
		return restoreAPIError(c, restoreAuthError(err))
	}
	v, err := s.viewOfRestore(c, r)
	if err != nil {
		return err
	}
	v.Start = &out
	return c.Status(fiber.StatusCreated).JSON(v)
}

// authorizedRestore authorizes the URL's tenant for capability and loads its :restore
// (another tenant's restore is a 404).
func (s *Server) authorizedRestore(c *fiber.Ctx, capability tenancy.Capability) (tenancy.Tenant, restore.Restore, error) {
	if s.deps.Restore == nil {
		return tenancy.Tenant{}, restore.Restore{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	t, err := s.authorizedTenant(c, capability)
	if err != nil {
		return tenancy.Tenant{}, restore.Restore{}, restoreAuthError(err)
	}
	id, err := paramUUID(c, "restore")
	if err != nil {
		return tenancy.Tenant{}, restore.Restore{}, err
	}
	r, err := s.deps.Restore.Restore(c.UserContext(), t.ID, id)
	if errors.Is(err, restore.ErrNotFound) {
		return tenancy.Tenant{}, restore.Restore{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return t, r, err
}

// handleAPIRestore answers one restore with its preview and results (operations.view).
func (s *Server) handleAPIRestore(c *fiber.Ctx) error {
	_, r, err := s.authorizedRestore(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	v, err := s.viewOfRestore(c, r)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// handleAPIRestoreExecute starts a restore's execution (restore.execute) after the
// typed confirmation {"confirm": tenant name, "nonce"}: the gate's outcome, or 422 with
// a reason code.
func (s *Server) handleAPIRestoreExecute(c *fiber.Ctx) error {
	t, r, err := s.authorizedRestore(c, tenancy.CapRestoreExecute)
	if err != nil {
		return err
	}
	var body struct {
		Confirm string `json:"confirm"`
		Nonce   string `json:"nonce"`
	}
	if err := decodeStrict(c.Body(), &body, `{"confirm","nonce"}`); err != nil {
		return err
	}
	u := currentUser(c)
	out, err := s.deps.Restore.StartExecute(c.UserContext(), initiatorOf(c, u.ID, u.Email), t.ID, r.ID, body.Confirm, body.Nonce, "api")
	if err != nil {
		return restoreAPIError(c, restoreAuthError(err))
	}
	return c.JSON(out)
}

// restorePage is the data of restore.html.
type restorePage struct {
	Tenant     tenancy.Tenant
	Restore    restore.Restore
	Set        backup.Set
	Items      []restore.Item
	Counts     map[string]int
	HighRisk   bool
	CanExecute bool
	Nonce      string
	Error      string
}

// handleAdminRestoreCreate creates a restore of the URL's backup set from its page's
// "Restore…" button (restore.execute) and shows the restore page.
func (s *Server) handleAdminRestoreCreate(c *fiber.Ctx) error {
	if s.deps.Restore == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	t, err := s.authorizedTenant(c, tenancy.CapRestoreExecute)
	if err != nil {
		return restoreAuthError(err)
	}
	setID, err := paramUUID(c, "set")
	if err != nil {
		return err
	}
	u := currentUser(c)
	r, out, err := s.deps.Restore.Create(c.UserContext(), initiatorOf(c, u.ID, u.Email), t.ID, setID, "web")
	if errors.Is(err, restore.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if _, msg, ok := restoreRefusal(err); ok {
		return fiber.NewError(fiber.StatusUnprocessableEntity, msg)
	}
	if err != nil {
		return restoreAuthError(err)
	}
	s.flashOutcome(c, out)
	return c.Redirect(restoreURL(t.ID, r.ID), fiber.StatusSeeOther)
}

// handleAdminRestore shows a restore: the preview's per-item diff and, once executed,
// each item's result, all from the database; the execute form (type the tenant's name)
// for members who may restore once the preview finished.
func (s *Server) handleAdminRestore(c *fiber.Ctx) error {
	t, r, err := s.authorizedRestore(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	return s.renderRestore(c, t, r, fiber.StatusOK, "")
}

func (s *Server) renderRestore(c *fiber.Ctx, t tenancy.Tenant, r restore.Restore, status int, problem string) error {
	ctx := c.UserContext()
	items, err := s.deps.Restore.Items(ctx, r.ID)
	if err != nil {
		return err
	}
	set, err := s.deps.Backup.Set(ctx, r.SetID)
	if err != nil {
		return err
	}
	data := restorePage{Tenant: t, Restore: r, Set: set, Items: items, Counts: map[string]int{}, Nonce: uuid.NewString(), Error: problem}
	for _, it := range items {
		data.Counts[it.Diff]++
		if it.HighRisk {
			data.HighRisk = true
		}
	}
	if r.Status == restore.StatusPreviewed {
		if data.CanExecute, err = s.canStart(c, t.ID, restore.TypeExecute); err != nil {
			return err
		}
	}
	return s.render(c, status, "restore", page{Title: t.Name + " · Restore", Nav: "backups", Tenant: &t, Data: data})
}

// handleAdminRestoreExecute starts the execution from the restore page's form
// (restore.execute): a wrong confirmation shows the page again (422) and starts nothing;
// otherwise the run's page follows.
func (s *Server) handleAdminRestoreExecute(c *fiber.Ctx) error {
	t, r, err := s.authorizedRestore(c, tenancy.CapRestoreExecute)
	if err != nil {
		return err
	}
	in, nonce, err := formClick(c)
	if err != nil {
		return err
	}
	out, err := s.deps.Restore.StartExecute(c.UserContext(), in, t.ID, r.ID, c.FormValue("confirm"), nonce, "web")
	if _, msg, ok := restoreRefusal(err); ok {
		return s.renderRestore(c, t, r, fiber.StatusUnprocessableEntity, msg)
	}
	if err != nil {
		return restoreAuthError(err)
	}
	s.flashOutcome(c, out)
	if out.Run != nil && (out.Status == operations.StartAccepted || out.Status == operations.StartDeduped) {
		return c.Redirect(out.Run.URL, fiber.StatusSeeOther)
	}
	return c.Redirect(restoreURL(t.ID, r.ID), fiber.StatusSeeOther)
}

// authorizedWorkspace parses :workspace and authorizes capability on it: no membership
// (or an unparseable id) 404, a role without capability 403.
func (s *Server) authorizedWorkspace(c *fiber.Ctx, capability tenancy.Capability) (uuid.UUID, error) {
	id, err := paramUUID(c, "workspace")
	if err != nil {
		return uuid.Nil, err
	}
	dec, err := s.deps.Tenancy.AuthorizeWorkspace(c.UserContext(), currentUser(c).ID, id, capability)
	if err != nil {
		return uuid.Nil, err
	}
	if err := dec.Err(); err != nil {
		return uuid.Nil, restoreAuthError(s.auditDenied(c, "workspace", id.String(), err))
	}
	return id, nil
}

// handleAPIRestoreSettings answers a workspace's restore settings (operations.view).
func (s *Server) handleAPIRestoreSettings(c *fiber.Ctx) error {
	if s.deps.Restore == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	ws, err := s.authorizedWorkspace(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	st, err := s.deps.Restore.WorkspaceSettings(c.UserContext(), ws)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// handleAPIRestoreSettingsUpdate changes a workspace's restore settings
// {"highRiskEnabled": bool} (workspace.manage: owners), audited with before/after.
func (s *Server) handleAPIRestoreSettingsUpdate(c *fiber.Ctx) error {
	if s.deps.Restore == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	ws, err := s.authorizedWorkspace(c, tenancy.CapWorkspaceManage)
	if err != nil {
		return err
	}
	var body struct {
		HighRiskEnabled *bool `json:"highRiskEnabled"`
	}
	if err := decodeStrict(c.Body(), &body, `{"highRiskEnabled": true or false}`); err != nil {
		return err
	}
	if body.HighRiskEnabled == nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "highRiskEnabled: required (true or false)")
	}
	st := restore.Settings{HighRiskEnabled: *body.HighRiskEnabled}
	if err := s.deps.Restore.SetWorkspaceSettings(c.UserContext(), tenancy.UserActor(currentUser(c).ID), ws, st); err != nil {
		return err
	}
	return c.JSON(st)
}
