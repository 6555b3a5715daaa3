package web

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"time"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/restore"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// backupsPage is the data of the backups template.
type backupsPage struct {
	Tenant tenancy.Tenant
	Sets   []backup.Set
	// CanCreate: the user may start backup_set.add_policies here (backup.manage, and
	// a worker runs the type); the form is shown only then.
	CanCreate bool
	// Snapshot is the latest complete inventory snapshot (nil: none yet), whose
	// Policies the form offers.
	Snapshot *inventory.Snapshot
	Policies []inventory.Item
}

// backupSetType is the run type the backups page's form starts.
const backupSetType = "backup_set.add_policies"

// latestPolicies returns the tenant's latest complete inventory snapshot (nil when
// there is none) and its policies, at most backup.MaxPolicies.
func (s *Server) latestPolicies(c *fiber.Ctx, t tenancy.Tenant) (*inventory.Snapshot, []inventory.Item, error) {
	snaps, err := s.deps.Inventory.LatestComplete(c.UserContext(), t.ID, 1)
	if err != nil || len(snaps) == 0 {
		return nil, nil, err
	}
	items, err := s.deps.Inventory.Items(c.UserContext(), snaps[0].ID, inventory.ItemQuery{Limit: backup.MaxPolicies})
	if err != nil {
		return nil, nil, err
	}
	return &snaps[0], items, nil
}

// backupSetPage is the data of the backup_set template.
type backupSetPage struct {
	Tenant tenancy.Tenant
	Set    backup.Set
	Items  []backup.Item
	// Runs are the runs that linked the set (its backup run).
	Runs relatedRuns
	// CanRestore offers "Restore…": the set is sealed, holds items, and the member may
	// start restores that this deployment runs.
	CanRestore bool
	// Restores are the set's restores, newest first.
	Restores []restore.Restore
}

// backupItemPage is the data of the backup_item template.
type backupItemPage struct {
	Tenant   tenancy.Tenant
	Set      backup.Set
	Item     backup.Item
	Size     int
	Verified bool
}

// handleAdminBackups lists a tenant's backup sets, newest first.
func (s *Server) handleAdminBackups(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	sets, err := s.deps.Backup.Sets(c.UserContext(), t.ID, 50)
	if err != nil {
		return err
	}
	data := backupsPage{Tenant: t, Sets: sets}
	if data.CanCreate, err = s.canStart(c, t.ID, backupSetType); err != nil {
		return err
	}
	if data.CanCreate {
		if data.Snapshot, data.Policies, err = s.latestPolicies(c, t); err != nil {
			return err
		}
	}
	return s.render(c, fiber.StatusOK, "backups", page{Title: t.Name + " · Backups", Nav: "backups", Tenant: &t, Data: data})
}

// handleAdminBackupCreate is the backups page's form: the policies checked (values
// "type/id", each one of the latest inventory snapshot's) and a name start a
// backup_set.add_policies run through the start gate; the page shows the gate's answer
// with its View-run link. Not a member: 404; without backup.manage: 403; no policy
// checked, one not in the latest inventory or a name over 200 characters: 422.
func (s *Server) handleAdminBackupCreate(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapBackupManage)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "The backup set's name is longer than 200 characters.")
	}
	_, items, err := s.latestPolicies(c, t)
	if err != nil {
		return err
	}
	offered := make(map[backup.PolicyRef]bool, len(items))
	for _, it := range items {
		offered[backup.PolicyRef{Type: it.PolicyType, ID: it.PolicyID}] = true
	}
	var picked []backup.PolicyRef
	seen := map[backup.PolicyRef]bool{}
	for _, v := range c.Request().PostArgs().PeekMulti("policy") {
		typ, id, _ := strings.Cut(string(v), "/")
		p := backup.PolicyRef{Type: typ, ID: id}
		if !offered[p] {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "A policy picked is not in the latest inventory; reload the page and pick again.")
		}
		if !seen[p] {
			seen[p] = true
			picked = append(picked, p)
		}
	}
	if len(picked) == 0 {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Pick at least one policy to back up.")
	}
	ctxJSON, err := json.Marshal(backup.Context{Name: name, Policies: picked})
	if err != nil {
		return err
	}
	u := currentUser(c)
	out, err := s.deps.Operations.Start(c.UserContext(), operations.StartRequest{Type: backupSetType, TenantID: t.ID, Context: ctxJSON,
		Initiator: initiatorOf(c, u.ID, u.Email), SourceSurface: "web"})
	if err != nil {
		return err
	}
	s.flashOutcome(c, out)
	return c.Redirect("/admin/t/"+t.ID.String()+"/backups", fiber.StatusSeeOther)
}

// authorizedSet authorizes the URL's tenant for viewing operations and loads its :set
// (another tenant's set is a 404).
func (s *Server) authorizedSet(c *fiber.Ctx) (tenancy.Tenant, backup.Set, error) {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return tenancy.Tenant{}, backup.Set{}, err
	}
	id, err := paramUUID(c, "set")
	if err != nil {
		return tenancy.Tenant{}, backup.Set{}, err
	}
	set, err := s.deps.Backup.Set(c.UserContext(), id)
	if err != nil {
		return tenancy.Tenant{}, backup.Set{}, err
	}
	if set.TenantID != t.ID {
		return tenancy.Tenant{}, backup.Set{}, notInTenant()
	}
	return t, set, nil
}

// handleAdminBackupSet lists a backup set's items (no payloads).
func (s *Server) handleAdminBackupSet(c *fiber.Ctx) error {
	t, set, err := s.authorizedSet(c)
	if err != nil {
		return err
	}
	items, err := s.deps.Backup.Items(c.UserContext(), set.ID)
	if err != nil {
		return err
	}
	runs, err := s.relatedRunsOf(c.UserContext(), t, "The runs that captured into this set, newest first.", time.Time{},
		operations.RunLinked{Kind: operations.LinkBackupSet, ID: set.ID})
	if err != nil {
		return err
	}
	data := backupSetPage{Tenant: t, Set: set, Items: items, Runs: runs}
	if s.deps.Restore != nil {
		if data.Restores, err = s.deps.Restore.RestoresOfSet(c.UserContext(), set.ID); err != nil {
			return err
		}
	}
	if s.deps.Restore != nil && !set.SealedAt.IsZero() && len(items) > 0 {
		// A restore previews first (restore.preview), then executes: both must run here.
		if data.CanRestore, err = s.canStart(c, t.ID, restore.TypePreview); err != nil {
			return err
		}
		data.CanRestore = data.CanRestore && s.deps.Operations.Runnable(restore.TypeExecute)
	}
	return s.render(c, fiber.StatusOK, "backup_set", page{Title: t.Name + " · Backup set", Nav: "backups", Tenant: &t, Data: data})
}

// handleAdminBackupItem shows one captured policy: its facts, whether the payload
// still matches its sha256, and the payload itself (collapsed).
func (s *Server) handleAdminBackupItem(c *fiber.Ctx) error {
	t, set, err := s.authorizedSet(c)
	if err != nil {
		return err
	}
	typ := c.Params("type")
	id, err := paramText(c, "id", 400)
	if err != nil || !inventory.IsPolicyType(typ) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	it, err := s.deps.Backup.Item(c.UserContext(), set.ID, typ, id)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "backup_item", page{Title: t.Name + " · Backup item", Nav: "backups", Tenant: &t,
		Data: backupItemPage{Tenant: t, Set: set, Item: it, Size: len(it.Payload), Verified: it.Verify()}})
}
