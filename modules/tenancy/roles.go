package tenancy

import (
	"fmt"
	"slices"
)

// Role is a member's role in a workspace or on one managed tenant.
type Role string

// The roles, from most to least privileged; see RoleCapabilities for what each may do.
const (
	// RoleOwner may do everything, including managing the workspace itself.
	RoleOwner Role = "owner"
	// RoleManager may do everything an owner may except managing the workspace itself.
	RoleManager Role = "manager"
	// RoleOperator runs day-to-day operations but cannot restore, change provider
	// connections, manage members or read the audit log.
	RoleOperator Role = "operator"
	// RoleReadonly may only view operations.
	RoleReadonly Role = "readonly"
	// RoleCompliance may view operations and view and export the audit log.
	RoleCompliance Role = "compliance"
)

// Capability names one thing a member may do, e.g. "inventory.sync".
type Capability string

// The capabilities, in the order CapabilityList returns them (sorted by name).
const (
	// CapAuditExport exports the audit log (JSONL/CSV).
	CapAuditExport Capability = "audit.export"
	// CapAuditView views the audit log and replays runs from it.
	CapAuditView Capability = "audit.view"
	// CapBackupManage starts and schedules backups.
	CapBackupManage Capability = "backup.manage"
	// CapDirectorySync starts directory (groups, role definitions) syncs.
	CapDirectorySync Capability = "directory.sync"
	// CapDriftGenerate starts drift generation.
	CapDriftGenerate Capability = "drift.generate"
	// CapInventorySync starts inventory syncs.
	CapInventorySync Capability = "inventory.sync"
	// CapMembersManage grants and revokes memberships.
	CapMembersManage Capability = "members.manage"
	// CapOperationsView views operation runs.
	CapOperationsView Capability = "operations.view"
	// CapProviderManage adds and changes provider connections.
	CapProviderManage Capability = "provider.manage"
	// CapProviderVerify starts provider connection verification.
	CapProviderVerify Capability = "provider.verify"
	// CapRestoreExecute executes restores.
	CapRestoreExecute Capability = "restore.execute"
	// CapWorkspaceManage renames or deletes the workspace itself (owner only).
	CapWorkspaceManage Capability = "workspace.manage"
)

var allCapabilities = []Capability{
	CapAuditExport, CapAuditView, CapBackupManage, CapDirectorySync, CapDriftGenerate,
	CapInventorySync, CapMembersManage, CapOperationsView, CapProviderManage,
	CapProviderVerify, CapRestoreExecute, CapWorkspaceManage,
}

var allRoles = []Role{RoleOwner, RoleManager, RoleOperator, RoleReadonly, RoleCompliance}

// roleTable is the one place that says which role may do what:
//
//	capability        owner manager operator readonly compliance
//	audit.export        x      x                          x
//	audit.view          x      x                          x
//	backup.manage       x      x       x
//	directory.sync      x      x       x
//	drift.generate      x      x       x
//	inventory.sync      x      x       x
//	members.manage      x      x
//	operations.view     x      x       x        x         x
//	provider.manage     x      x
//	provider.verify     x      x       x
//	restore.execute     x      x
//	workspace.manage    x
var roleTable = map[Role][]Capability{
	RoleOwner: allCapabilities,
	RoleManager: {
		CapAuditExport, CapAuditView, CapBackupManage, CapDirectorySync, CapDriftGenerate,
		CapInventorySync, CapMembersManage, CapOperationsView, CapProviderManage,
		CapProviderVerify, CapRestoreExecute,
	},
	RoleOperator: {
		CapBackupManage, CapDirectorySync, CapDriftGenerate, CapInventorySync,
		CapOperationsView, CapProviderVerify,
	},
	RoleReadonly:   {CapOperationsView},
	RoleCompliance: {CapAuditExport, CapAuditView, CapOperationsView},
}

// Roles returns every role, from most to least privileged (owner first).
func Roles() []Role { return slices.Clone(allRoles) }

// Capabilities returns every capability, sorted by name.
func Capabilities() []Capability { return slices.Clone(allCapabilities) }

// ParseRole returns the role named s, or an error wrapping ErrInvalid.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := roleTable[r]; !ok {
		return "", fmt.Errorf("tenancy: role %q: %w", s, ErrInvalid)
	}
	return r, nil
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	_, ok := roleTable[r]
	return ok
}

// Valid reports whether c is one of the defined capabilities.
func (c Capability) Valid() bool {
	_, found := slices.BinarySearch(allCapabilities, c)
	return found
}

// RoleCapabilities is the capability resolver: the capabilities of r, sorted by name
// (nil for an unknown role). owner has all of them; manager all but workspace.manage;
// operator operations.view, inventory.sync, directory.sync, drift.generate,
// backup.manage and provider.verify; readonly operations.view; compliance
// operations.view, audit.view and audit.export.
func RoleCapabilities(r Role) []Capability {
	return slices.Clone(roleTable[r])
}

// Can reports whether r has capability c.
func (r Role) Can(c Capability) bool {
	return slices.Contains(roleTable[r], c)
}

// rolesWith returns the names of the roles that have c, for SQL filters.
func rolesWith(c Capability) []string {
	var out []string
	for _, r := range allRoles {
		if r.Can(c) {
			out = append(out, string(r))
		}
	}
	return out
}
