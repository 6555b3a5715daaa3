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
	// run while a double-submit of one click is deduped, forever (run now, retry).
	IdentityNonce
	// IdentityScheduled: (schedule id, scheduled-for time), unique forever.
	IdentityScheduled
)

// Permanent reports whether an identity of the rule is unique forever, not only while
// its run is active: a schedule's slot, and one click (its nonce), start at most one run
// however often they are sent, whatever became of that run.
func (r IdentityRule) Permanent() bool { return r == IdentityScheduled || r == IdentityNonce }

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
	// Context declares the start context's fields; nil accepts only {}.
	Context ContextSchema
	// PlatformCapability is what a platform initiator (a /system user) needs, besides
	// platform.runbooks.run, to start the type; "" means platform users cannot start it.
	PlatformCapability tenancy.PlatformCapability
	// RunbookLock types hold one lock per workspace and type while active when their
	// context names a "scope" (spec 113: a second fan-out is scope_busy).
	RunbookLock bool
}

// The declared start contexts. Only backup_set.add_policies reads its context today;
// the other declared fields are recorded with the run and shown on it (and take part in
// its dedupe identity), and a later handler may narrow its work by them.
var (
	// inventorySyncContext names the policy types an inventory sync is asked for.
	inventorySyncContext = ContextSchema{{Name: "policyTypes", Kind: KindStrings}}
	// driftContext labels the baseline an operator compares against.
	driftContext = ContextSchema{{Name: "baseline", Kind: KindString}}
	// backupSetContext is backup.Context: the set's name and the policies to capture.
	backupSetContext = ContextSchema{{Name: "name", Kind: KindString},
		{Name: "policies", Kind: KindObjects, Required: true, Fields: []Field{
			{Name: "type", Kind: KindString, Required: true}, {Name: "id", Kind: KindString, Required: true}}}}
	// scheduleContext names the backup schedule a run-now, retry or scheduled run acts on.
	scheduleContext = ContextSchema{{Name: "scheduleId", Kind: KindUUID, Required: true}}
	// restoreContext names the restore a preview or an execution acts on.
	restoreContext = ContextSchema{{Name: "restoreId", Kind: KindUUID, Required: true}}
	// backfillContext is the runbook's scope and the operator's reason (spec 113).
	backfillContext = ContextSchema{{Name: "scope", Kind: KindString}, {Name: "targetTenantId", Kind: KindUUID},
		{Name: "reasonCode", Kind: KindString}, {Name: "reasonText", Kind: KindString}}
)

// catalog is the closed set of run types.
var catalog = map[string]TypeInfo{}

func init() {
	for _, t := range []TypeInfo{
		{Type: "inventory.sync", Label: "Inventory sync", StartCapability: tenancy.CapInventorySync, ProviderBacked: true, Related: "inventory", Context: inventorySyncContext},
		{Type: "directory.groups.sync", Label: "Directory groups sync", StartCapability: tenancy.CapDirectorySync, ProviderBacked: true, Related: "directory.groups"},
		{Type: "directory.role_definitions.sync", Label: "Role definitions sync", StartCapability: tenancy.CapDirectorySync, ProviderBacked: true, Related: "directory.roles"},
		{Type: "drift.generate", Label: "Drift generation", StartCapability: tenancy.CapDriftGenerate, Related: "drift.findings", Context: driftContext},
		{Type: "backup_set.add_policies", Label: "Backup set: add policies", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Related: "backup.set", Context: backupSetContext},
		{Type: "backup_schedule.run_now", Label: "Backup schedule: run now", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Identity: IdentityNonce, Related: "backup.schedule", Context: scheduleContext},
		{Type: "backup_schedule.retry", Label: "Backup schedule: retry", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Identity: IdentityNonce, Related: "backup.schedule", Context: scheduleContext},
		{Type: "backup_schedule.scheduled", Label: "Scheduled backup", StartCapability: tenancy.CapBackupManage, ProviderBacked: true, Identity: IdentityScheduled, Related: "backup.schedule", Context: scheduleContext},
		{Type: "restore.preview", Label: "Restore preview", StartCapability: tenancy.CapRestoreExecute, ProviderBacked: true, Related: "restore", Context: restoreContext},
		{Type: "restore.execute", Label: "Restore", StartCapability: tenancy.CapRestoreExecute, ProviderBacked: true, Identity: IdentityNonce, Related: "restore", Context: restoreContext},
		{Type: "provider.verify", Label: "Provider verification", StartCapability: tenancy.CapProviderVerify, ProviderBacked: true, ChecksConnection: true, Related: "provider.connection"},
		{Type: "findings.lifecycle.backfill", Label: "Findings lifecycle backfill", StartCapability: tenancy.CapMembersManage, WorkspaceScoped: true,
			Identity: IdentityNonce, Context: backfillContext, PlatformCapability: tenancy.PlatformFindingsLifecycleBackfill, RunbookLock: true},
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
