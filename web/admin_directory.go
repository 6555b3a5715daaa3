package web

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/directory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// directorySearchLimit is how many matches a picker shows.
const directorySearchLimit = 50

// directoryKind is one cached picker: groups or role definitions.
type directoryKind struct {
	// Slug is the path segment: "groups" or "roles".
	Slug string
	// Label is the page's name.
	Label string
	// SyncType is the run type the Sync-now button starts.
	SyncType string
}

var (
	groupsKind = directoryKind{Slug: "groups", Label: "Groups", SyncType: "directory.groups.sync"}
	rolesKind  = directoryKind{Slug: "roles", Label: "Role definitions", SyncType: "directory.role_definitions.sync"}
)

// directoryPage is the data of the directory template.
type directoryPage struct {
	Tenant  tenancy.Tenant
	Kind    directoryKind
	Kinds   []directoryKind
	Q       string
	Groups  []directory.Group
	Roles   []directory.RoleDefinition
	Matches int
	Limited bool
	Count   int
	// Synced is the last complete sync; nil when the cache was never filled.
	Synced  *directory.SyncState
	CanSync bool
}

// handleAdminDirectoryHome sends the Directory entry to the groups picker.
func (s *Server) handleAdminDirectoryHome(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	return c.Redirect("/admin/t/"+t.ID.String()+"/directory/groups", fiber.StatusFound)
}

// handleAdminDirectory shows a cached picker (groups or role definitions): a search
// over the directory module's tables only, the cache's size and last sync, and a
// Sync-now button for roles that may start the sync.
func (s *Server) handleAdminDirectory(kind directoryKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
		if err != nil {
			return err
		}
		q := strings.TrimSpace(c.Query("q"))
		if utf8.RuneCountInString(q) > 200 {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "Search for at most 200 characters.")
		}
		ctx := c.UserContext()
		data := directoryPage{Tenant: t, Kind: kind, Kinds: []directoryKind{groupsKind, rolesKind}, Q: q}
		var state directory.SyncState
		if kind == groupsKind {
			if data.Groups, err = s.deps.Directory.SearchGroups(ctx, t.ID, q, directorySearchLimit); err != nil {
				return err
			}
			data.Matches = len(data.Groups)
			if data.Count, err = s.deps.Directory.CountGroups(ctx, t.ID); err != nil {
				return err
			}
			state, err = s.deps.Directory.GroupsSyncState(ctx, t.ID)
		} else {
			if data.Roles, err = s.deps.Directory.SearchRoleDefinitions(ctx, t.ID, q, directorySearchLimit); err != nil {
				return err
			}
			data.Matches = len(data.Roles)
			if data.Count, err = s.deps.Directory.CountRoleDefinitions(ctx, t.ID); err != nil {
				return err
			}
			state, err = s.deps.Directory.RoleDefinitionsSyncState(ctx, t.ID)
		}
		switch {
		case err == nil:
			data.Synced = &state
		case !errors.Is(err, directory.ErrNotFound):
			return err
		}
		data.Limited = data.Matches == directorySearchLimit
		if data.CanSync, err = s.canStart(c, t.ID, kind.SyncType); err != nil {
			return err
		}
		return s.render(c, fiber.StatusOK, "directory", page{Title: t.Name + " · " + kind.Label, Nav: "directory", Tenant: &t, Data: data})
	}
}

// handleAdminDirectorySync is the picker's Sync-now button: it starts the kind's sync
// run through the start gate and goes back to the picker with the gate's answer.
func (s *Server) handleAdminDirectorySync(kind directoryKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
		if err != nil {
			return err
		}
		return s.startFromHub(c, t.ID, kind.SyncType, "/admin/t/"+t.ID.String()+"/directory/"+kind.Slug)
	}
}

// groupPage is the data of the group template.
type groupPage struct {
	Tenant tenancy.Tenant
	Group  directory.Group
	// Runs are the complete group syncs since the group's last change (see
	// handleAdminGroup).
	Runs relatedRuns
}

// handleAdminGroup shows one cached group and the runs that touched it. A groups sync
// links the tenant's whole group cache (operations.LinkDirectoryGroups, the tenant's
// id) when it completes, and writes only the groups it creates or changes (the group's
// changed_run_id, at changed_at, its start); a complete sync deletes the groups it no
// longer saw. So the runs listed are the complete group syncs of the tenant since the
// group's last change: the one that wrote its current content (when it completed) and
// every later one, each of which saw it unchanged. The run that last wrote it is shown
// on its own too, complete or not.
func (s *Server) handleAdminGroup(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	id, err := paramText(c, "group", 200)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	g, err := s.deps.Directory.Group(ctx, t.ID, id)
	if err != nil {
		return err
	}
	runs, err := s.relatedRunsOf(ctx, t, "The complete group syncs since this group last changed, newest first: the one that wrote its current content and every later one, each of which saw it unchanged.",
		g.ChangedAt, operations.RunLinked{Kind: operations.LinkDirectoryGroups, ID: t.ID})
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "group", page{Title: t.Name + " · Group", Nav: "directory", Tenant: &t,
		Data: groupPage{Tenant: t, Group: g, Runs: runs}})
}
