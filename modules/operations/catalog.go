package operations

import (
	"sort"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// IdentityRule says how a start's identity (for dedupe) is derived.
type IdentityRule int

// The identity rules.
const (
	// IdentityActive: type + tenant + context; deduped while a run with it is active.
	IdentityActive IdentityRule = iota
	// IdentityNonce: as IdentityActive plus a per-click nonce, so every click is a new
	// run while a double-submit of one click is deduped (run now, retry).
	IdentityNonce
	// IdentityScheduled: (schedule id, scheduled-for time), unique forever.
	IdentityScheduled
)

// TypeInfo describes one run type.
type TypeInfo struct {
	// Type is the stable name, "<resource>.<action>".
	Type string
	// Label is what operators read.
	Label string
	// StartCapability is required to start a run of this type.
	StartCapability tenancy.Capability
	// ViewCapability is required to view a run of this type.
	ViewCapability tenancy.Capability
	// ProviderBacked runs call Microsoft Graph through a provider connection: they need
	// a usable connection and hold the (tenant, connection) scope while active.
	ProviderBacked bool
	// Identity is the dedupe rule.
	Identity IdentityRule
	// WorkspaceScoped runs belong to a workspace, not a tenant (platform runbooks).
	WorkspaceScoped bool
	// ChecksConnection types verify the provider connection themselves: they start
	// whatever status the last check left (consent or permission missing), unless an
	// operator disabled the connection.
	ChecksConnection bool
	// Related names the page a finished run links to, if any ("drift findings" …).
	Related string
	// Surfaces are where a run of this type may be started from (StartsFrom).
	Surfaces Surface
}

// Surface is a set of places a run may be started from. The gate serves every surface;
// the web layer refuses a type on a generic surface (the hub's start form, the JSON API)
// that the catalog does not list it for (ErrSurfaceNotAllowed).
type Surface uint8

// The start surfaces (seeds 001, 003, 004: a restore starts from its wizard after a
// preview and an explicit confirmation, a schedule's runs from its page or the
// scheduler, a platform runbook from its page after a preflight and a typed
// confirmation; none of these from a generic form or the generic API).
const (
	// SurfaceStartForm is the generic start form of a tenant's operations page.
	SurfaceStartForm Surface = 1 << iota
	// SurfaceAPI is POST /api/v1/tenants/{tenant}/operations/{type}/start.
	SurfaceAPI
	// SurfaceOwnPage is the type's own hub page (the directory pages' Sync now; the
	// restore wizard, a schedule's page, the runbook page once later issues build them).
	SurfaceOwnPage
	// SurfaceScheduler is the backup scheduler (no user surface at all).
	SurfaceScheduler
)

// StartsFrom reports whether a run of the type may be started from surface s.
func (t TypeInfo) StartsFrom(s Surface) bool { return t.Surfaces&s != 0 }

// catalog is the closed set of run types.
var catalog = map[string]TypeInfo{}

func init() {
	const generic = SurfaceStartForm | SurfaceAPI
	for _, t := range []TypeInfo{
		{Type: "inventory.sync", Label: "Inventory sync", StartCapability: tenancy.CapInventorySync, ProviderBacked: true, Related: "inventory", Surfaces: generic},
		{Type: "directory.groups.sync", Label: "Directory groups sync", StartCapability: tenancy.CapDirectorySync, ProviderBacked: true, Related: "directory.groups", Surfaces: generic | SurfaceOwnPage},
		{Type: "directory.role_definitions.sync", Label: "Role definitions sync", StartCapability: tenancy.CapDirectorySync, ProviderBacked: true, Related: "directory.roles", Surfaces: generic | SurfaceOwnPage},
		{Type: "drift.generate", Label: "Drift generation", StartCapability: tenancy.CapDriftGenerate, Related: "drift.findings", Surfaces: generic},
		// A backup names its policies in its context: the generic form sends none.
		{Type: "backup_set.add_policies", Label: "Backup set: add policies", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Related: "backup.set", Surfaces: SurfaceAPI},
		{Type: "backup_schedule.run_now", Label: "Backup schedule: run now", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Identity: IdentityNonce, Related: "backup.schedule", Surfaces: SurfaceOwnPage},
		{Type: "backup_schedule.retry", Label: "Backup schedule: retry", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Identity: IdentityNonce, Related: "backup.schedule", Surfaces: SurfaceOwnPage},
		{Type: "backup_schedule.scheduled", Label: "Scheduled backup", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Identity: IdentityScheduled, Related: "backup.schedule", Surfaces: SurfaceScheduler},
		{Type: "restore.execute", Label: "Restore", StartCapability: tenancy.CapRestoreExecute, ProviderBacked: true, Identity: IdentityNonce, Related: "restore", Surfaces: SurfaceOwnPage},
		{Type: "provider.verify", Label: "Provider verification", StartCapability: tenancy.CapProviderVerify, ProviderBacked: true, ChecksConnection: true, Related: "provider.connection", Surfaces: generic},
		{Type: "findings.lifecycle.backfill", Label: "Findings lifecycle backfill", StartCapability: tenancy.CapMembersManage, WorkspaceScoped: true, Surfaces: SurfaceOwnPage},
	} {
		t.ViewCapability = tenancy.CapOperationsView
		catalog[t.Type] = t
	}
}

// LookupType returns the catalog entry of a run type.
func LookupType(name string) (TypeInfo, bool) {
	t, ok := catalog[name]
	return t, ok
}

// Types returns the catalog, sorted by type name.
func Types() []TypeInfo {
	out := make([]TypeInfo, 0, len(catalog))
	for _, t := range catalog {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
