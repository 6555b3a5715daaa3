package web

import (
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// inventoryPageSize is how many items the snapshot page shows per page.
const inventoryPageSize = 50

// inventoryPage is the data of the inventory template.
type inventoryPage struct {
	Tenant    tenancy.Tenant
	Snapshots []inventory.Snapshot
}

// snapshotPage is the data of the snapshot template.
type snapshotPage struct {
	Tenant   tenancy.Tenant
	Snapshot inventory.Snapshot
	// Types are the policy types in listing order (the filter's options and the
	// per-type counts' rows).
	Types   []string
	Type    string
	Items   []inventory.Item
	Paged   bool
	NextURL string
	// Runs are the runs that linked the snapshot (the inventory sync that took it).
	Runs relatedRuns
}

// handleAdminInventory lists a tenant's newest inventory snapshots. ?run= (the related
// link of an inventory.sync run) goes to that run's snapshot when it has one.
func (s *Server) handleAdminInventory(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	runID, err := queryUUID(c, "run", fiber.StatusNotFound)
	if err != nil {
		return err
	}
	if runID != uuid.Nil {
		snap, err := s.deps.Inventory.SnapshotOfRun(ctx, runID)
		switch {
		case err == nil && snap.TenantID == t.ID:
			return c.Redirect(snapshotURL(t.ID, snap.ID), fiber.StatusFound)
		case err != nil && !errors.Is(err, inventory.ErrNotFound):
			return err
		}
	}
	snaps, err := s.deps.Inventory.Snapshots(ctx, t.ID, 50)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "inventory", page{Title: t.Name + " · Inventory", Nav: "inventory", Tenant: &t,
		Data: inventoryPage{Tenant: t, Snapshots: snaps}})
}

// handleAdminSnapshot shows one snapshot's items, filtered by policy type, in keyset
// pages ordered by (policy type, policy id).
func (s *Server) handleAdminSnapshot(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	id, err := paramUUID(c, "snapshot")
	if err != nil {
		return err
	}
	q := inventory.ItemQuery{PolicyType: c.Query("type"), AfterType: c.Query("after_type"), AfterID: c.Query("after_id"), Limit: inventoryPageSize + 1}
	if q.PolicyType != "" && !inventory.IsPolicyType(q.PolicyType) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Unknown policy type.")
	}
	if (q.AfterID != "") != (q.AfterType != "") || (q.AfterType != "" && !inventory.IsPolicyType(q.AfterType)) || len(q.AfterID) > 200 {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "This page link is no longer valid; start from the first page.")
	}
	ctx := c.UserContext()
	snap, err := s.deps.Inventory.Snapshot(ctx, id)
	if err != nil {
		return err
	}
	if snap.TenantID != t.ID {
		return notInTenant()
	}
	items, err := s.deps.Inventory.Items(ctx, snap.ID, q)
	if err != nil {
		return err
	}
	data := snapshotPage{Tenant: t, Snapshot: snap, Types: slices.Clone(inventory.PolicyTypes), Type: q.PolicyType, Paged: q.AfterID != ""}
	if len(items) > inventoryPageSize {
		items = items[:inventoryPageSize]
		last := items[len(items)-1]
		v := url.Values{"after_type": {last.PolicyType}, "after_id": {last.PolicyID}}
		if q.PolicyType != "" {
			v.Set("type", q.PolicyType)
		}
		data.NextURL = c.Path() + "?" + v.Encode()
	}
	data.Items = items
	if data.Runs, err = s.relatedRunsOf(ctx, t, "The runs that took this snapshot, newest first.", time.Time{},
		operations.RunLinked{Kind: operations.LinkInventorySnapshot, ID: snap.ID}); err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "snapshot", page{Title: t.Name + " · Inventory snapshot", Nav: "inventory", Tenant: &t, Data: data})
}

// snapshotURL is the hub page of a snapshot (the href operations.RelatedLinks gives it).
func snapshotURL(tenantID, snapshotID uuid.UUID) string {
	return "/admin/t/" + tenantID.String() + "/inventory/snapshots/" + snapshotID.String()
}

// itemPage is the data of the inventory_item template.
type itemPage struct {
	Tenant tenancy.Tenant
	// Item is the policy as the newest snapshot holding it has it.
	Item inventory.Item
	// Snapshots are how many of the newest snapshots hold it; Sets how many of the
	// newest backup sets captured it.
	Snapshots, Sets int
	Runs            relatedRuns
}

// handleAdminInventoryItem shows one policy of the tenant's inventory and the runs that
// touched it. Runs link snapshots and backup sets, not single policies, so the runs
// listed are the inventory syncs whose snapshot holds the policy and the backup runs
// whose set captured it (among the newest inventory.ItemScanSnapshots snapshots and
// backup.ItemScanSets sets), newest first.
func (s *Server) handleAdminInventoryItem(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	typ := c.Params("type")
	id, err := paramText(c, "id", 400)
	if err != nil || !inventory.IsPolicyType(typ) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	ctx := c.UserContext()
	history, err := s.deps.Inventory.ItemHistory(ctx, t.ID, typ, id)
	if err != nil {
		return err
	}
	if len(history) == 0 {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	sets, err := s.deps.Backup.SetsWithItem(ctx, t.ID, typ, id)
	if err != nil {
		return err
	}
	objects := make([]operations.RunLinked, 0, len(history)+len(sets))
	for _, it := range history {
		objects = append(objects, operations.RunLinked{Kind: operations.LinkInventorySnapshot, ID: it.SnapshotID})
	}
	for _, set := range sets {
		objects = append(objects, operations.RunLinked{Kind: operations.LinkBackupSet, ID: set})
	}
	runs, err := s.relatedRunsOf(ctx, t, "The inventory syncs whose snapshot holds this policy and the backup runs whose set captured it, newest first.",
		time.Time{}, objects...)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "inventory_item", page{Title: t.Name + " · Policy", Nav: "inventory", Tenant: &t,
		Data: itemPage{Tenant: t, Item: history[0], Snapshots: len(history), Sets: len(sets), Runs: runs}})
}
