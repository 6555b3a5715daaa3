package operations

import "github.com/google/uuid"

// RelatedLinks are the pages a run relates to: its tenant's operations, and the
// type's result page once the run has ended.
func RelatedLinks(r *Run) []NextStep {
	links := []NextStep{}
	if r.TenantID != uuid.Nil {
		links = append(links, NextStep{Label: "Tenant operations", Href: "/admin/t/" + r.TenantID.String() + "/operations"})
	}
	info, ok := LookupType(r.Type)
	if !ok || info.Related == "" || r.TenantID == uuid.Nil {
		return links
	}
	base := "/admin/t/" + r.TenantID.String()
	switch info.Related {
	case "inventory":
		links = append(links, NextStep{Label: "Inventory", Href: base + "/inventory?run=" + r.ID.String()})
	case "directory.groups":
		links = append(links, NextStep{Label: "Directory groups", Href: base + "/directory/groups"})
	case "directory.roles":
		links = append(links, NextStep{Label: "Role definitions", Href: base + "/directory/roles"})
	case "drift.findings":
		links = append(links, NextStep{Label: "Drift findings", Href: base + "/drift?run=" + r.ID.String()})
	case "backup.set", "backup.schedule":
		links = append(links, NextStep{Label: "Backups", Href: base + "/backups"})
	case "restore":
		links = append(links, NextStep{Label: "Restores", Href: base + "/restores"})
	case "provider.connection":
		links = append(links, NextStep{Label: "Provider connections", Href: base + "/provider-connections"})
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
