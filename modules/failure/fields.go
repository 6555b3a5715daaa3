package failure

import (
	"sort"
	"strings"
)

// FieldList is a validation error's bad fields as one line, "name: what; …", names
// sorted (what each module's ValidationError says).
func FieldList(fields map[string]string) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + fields[n]
	}
	return strings.Join(parts, "; ")
}
