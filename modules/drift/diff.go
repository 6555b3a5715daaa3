package drift

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"sort"

	"github.com/tenantatlas/ops/modules/inventory"
)

// Kind is what happened to a policy between two snapshots.
type Kind string

// The finding kinds.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// Change is one whitelisted field that differs; a missing side is nil.
type Change struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Finding is one policy that drifted.
type Finding struct {
	PolicyType  string
	PolicyID    string
	DisplayName string
	Kind        Kind
	// Changes are the differing fields of a Changed finding, by field name.
	Changes []Change
}

type key struct{ typ, id string }

// Diff compares a baseline snapshot's items with the current one's: a policy only in
// current is added, only in baseline removed, in both with a different content hash
// changed (with the differing fields). Findings are ordered by (policy type, id).
func Diff(baseline, current []inventory.Item) []Finding {
	base := make(map[key]inventory.Item, len(baseline))
	for _, it := range baseline {
		base[key{it.PolicyType, it.PolicyID}] = it
	}
	var out []Finding
	seen := make(map[key]bool, len(current))
	for _, cur := range current {
		k := key{cur.PolicyType, cur.PolicyID}
		seen[k] = true
		old, ok := base[k]
		switch {
		case !ok:
			out = append(out, Finding{PolicyType: cur.PolicyType, PolicyID: cur.PolicyID, DisplayName: cur.DisplayName, Kind: Added})
		case old.ContentHash != cur.ContentHash:
			if ch := fieldChanges(old.Fields, cur.Fields); len(ch) > 0 {
				out = append(out, Finding{PolicyType: cur.PolicyType, PolicyID: cur.PolicyID, DisplayName: cur.DisplayName, Kind: Changed, Changes: ch})
			}
		}
	}
	for _, old := range baseline {
		if !seen[key{old.PolicyType, old.PolicyID}] {
			out = append(out, Finding{PolicyType: old.PolicyType, PolicyID: old.PolicyID, DisplayName: old.DisplayName, Kind: Removed})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PolicyType != out[j].PolicyType {
			return out[i].PolicyType < out[j].PolicyType
		}
		return out[i].PolicyID < out[j].PolicyID
	})
	return out
}

// fieldChanges lists the fields whose values differ (as JSON), by field name.
func fieldChanges(before, after map[string]any) []Change {
	fields := map[string]bool{}
	for f := range before {
		fields[f] = true
	}
	for f := range after {
		fields[f] = true
	}
	var out []Change
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		b, a := before[f], after[f]
		if !sameJSON(b, a) {
			out = append(out, Change{Field: f, Before: b, After: a})
		}
	}
	return out
}

func sameJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
