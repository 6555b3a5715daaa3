package operations

import (
	"encoding/json"

	"github.com/google/uuid"
)

// LinkKind names what a RunLinked event points at.
type LinkKind string

// The link kinds.
const (
	// LinkInventorySnapshot is the inventory snapshot an inventory sync wrote.
	LinkInventorySnapshot LinkKind = "inventory_snapshot"
	// LinkDriftFindings are the findings a drift generation wrote (ID: the drift report,
	// which is the run itself).
	LinkDriftFindings LinkKind = "drift_findings"
	// LinkBackupSet is the backup set a backup run captured into.
	LinkBackupSet LinkKind = "backup_set"
	// LinkProviderConnection is the connection a provider verification checked.
	LinkProviderConnection LinkKind = "provider_connection"
	// LinkDirectoryGroups is the tenant's group cache a groups sync refreshed.
	LinkDirectoryGroups LinkKind = "directory_groups"
	// LinkDirectoryRoles is the tenant's role definitions cache a roles sync refreshed.
	LinkDirectoryRoles LinkKind = "directory_roles"
	// LinkRestore is the restore a restore.preview run previewed or a restore.execute run wrote.
	LinkRestore LinkKind = "restore"
)

// Valid reports whether k is one of the link kinds.
func (k LinkKind) Valid() bool {
	switch k {
	case LinkInventorySnapshot, LinkDriftFindings, LinkBackupSet, LinkProviderConnection, LinkDirectoryGroups, LinkDirectoryRoles, LinkRestore:
		return true
	}
	return false
}

// linkLabels are what the run viewer calls each linked object.
var linkLabels = map[LinkKind]string{
	LinkInventorySnapshot:  "Inventory snapshot",
	LinkDriftFindings:      "Drift findings",
	LinkBackupSet:          "Backup set",
	LinkProviderConnection: "Provider connection",
	LinkDirectoryGroups:    "Directory groups",
	LinkDirectoryRoles:     "Role definitions",
	LinkRestore:            "Restore",
}

// Label is what operators read for the kind ("Backup set").
func (k LinkKind) Label() string {
	if l, ok := linkLabels[k]; ok {
		return l
	}
	return string(k)
}

// linkHref is the hub page of a linked object of a tenant's run.
func linkHref(tenant uuid.UUID, l RunLinked) string {
	base := "/admin/t/" + tenant.String()
	switch l.Kind {
	case LinkInventorySnapshot:
		return base + "/inventory/snapshots/" + l.ID.String()
	case LinkDriftFindings:
		return base + "/drift?run=" + l.ID.String()
	case LinkBackupSet:
		return base + "/backups/" + l.ID.String()
	case LinkProviderConnection:
		return ConnectionURL(tenant, l.ID)
	case LinkDirectoryGroups:
		return base + "/directory/groups"
	case LinkDirectoryRoles:
		return base + "/directory/roles"
	case LinkRestore:
		return base + "/restores/" + l.ID.String()
	}
	return ""
}

// RelatedLinks are the pages a run relates to: its tenant's operations, the objects the
// run linked (RunLinked), and the type's result page. Only pages the hub serves are
// linked (TestEveryRunLinkLeadsToAPage walks them): restores have no page yet; a
// provider verification's page is its connection's (the tenant's verifications when
// the run names no connection).
func RelatedLinks(r *Run) []NextStep {
	links := []NextStep{}
	if r.TenantID != uuid.Nil {
		links = append(links, NextStep{Label: "Tenant operations", Href: "/admin/t/" + r.TenantID.String() + "/operations"})
	}
	if r.TenantID == uuid.Nil {
		return links
	}
	linked := map[string]bool{}
	for _, l := range r.Links {
		if href := linkHref(r.TenantID, l); href != "" && !linked[href] {
			linked[href] = true
			links = append(links, NextStep{Label: linkLabels[l.Kind], Href: href})
		}
	}
	info, ok := LookupType(r.Type)
	if !ok || info.Related == "" {
		return links
	}
	base := "/admin/t/" + r.TenantID.String()
	var page NextStep
	switch info.Related {
	case "inventory":
		page = NextStep{Label: "Inventory", Href: base + "/inventory?run=" + r.ID.String()}
	case "directory.groups":
		page = NextStep{Label: "Directory groups", Href: base + "/directory/groups"}
	case "directory.roles":
		page = NextStep{Label: "Role definitions", Href: base + "/directory/roles"}
	case "drift.findings":
		page = NextStep{Label: "Drift findings", Href: base + "/drift?run=" + r.ID.String()}
	case "backup.schedule":
		var c struct {
			ScheduleID uuid.UUID `json:"scheduleId"`
		}
		if json.Unmarshal(r.Context, &c) == nil && c.ScheduleID != uuid.Nil {
			page = NextStep{Label: "Backup schedule", Href: base + "/backups/schedules/" + c.ScheduleID.String()}
		} else {
			page = NextStep{Label: "Backups", Href: base + "/backups"}
		}
	case "backup.set":
		page = NextStep{Label: "Backups", Href: base + "/backups"}
	case "provider.connection":
		page = NextStep{Label: "Provider verifications", Href: base + "/operations?type=provider.verify"}
		if r.ProviderConnectionID != uuid.Nil {
			page = NextStep{Label: linkLabels[LinkProviderConnection], Href: ConnectionURL(r.TenantID, r.ProviderConnectionID)}
		}
	default:
		return links
	}
	if !linked[page.Href] {
		links = append(links, page)
	}
	return links
}

// RunNextSteps are the operator's next steps for a run: what the gate said for a
// blocked run, the reason's hint for a failed one, nothing while all is well.
func RunNextSteps(r *Run) []NextStep {
	if len(r.NextSteps) > 0 {
		return r.NextSteps
	}
	if r.Outcome == OutcomeFailed && r.ReasonCode != "" {
		_, next := ReasonInfo(r.ReasonCode)
		return []NextStep{{Label: next}}
	}
	return []NextStep{}
}
