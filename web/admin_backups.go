package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/restore"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// backupsPage is the data of the backups template.
type backupsPage struct {
	Tenant tenancy.Tenant
	Sets   []backup.Set
}

// backupSetPage is the data of the backup_set template.
type backupSetPage struct {
	Tenant tenancy.Tenant
	Set    backup.Set
	Items  []backup.Item
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
	return s.render(c, fiber.StatusOK, "backups", page{Title: t.Name + " · Backups", Nav: "backups", Tenant: &t,
		Data: backupsPage{Tenant: t, Sets: sets}})
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
	data := backupSetPage{Tenant: t, Set: set, Items: items}
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
