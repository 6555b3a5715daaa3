package backup_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/inventory"
)

// FuzzParseContext fuzzes the backup_set.add_policies context decoder. Any input is
// refused or accepted without panicking; an accepted context is bounded (1..MaxPolicies
// policies of known types, ids of 1..200 bytes without /?#, no duplicate, a name of at
// most 200 characters) and encodes back to JSON that parses to the same context. Both
// sides: a context built from the input (a known type, a plain id) is accepted as
// exactly that; the same with an unknown key, an unknown type, a duplicate, a bad id, no
// policy, too many policies or trailing data is refused.
func FuzzParseContext(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"policies":[{"type":"deviceConfigurations","id":"a"}]}`,
		`{"name":"n","policies":[{"type":"compliancePolicies","id":"x/y"}]}`, `{"policies":[{"type":"x","id":"a"}]}`,
		`{"policies":[{"type":"deviceConfigurations","id":"a"},{"type":"deviceConfigurations","id":"a"}]}`,
		`{"policies":[{"type":"deviceConfigurations","id":"a","extra":1}]}`, `{"policies":[{"type":"deviceConfigurations","id":"a"}]} {"x":1}`,
		`{"POLICIES":[{"TYPE":"deviceConfigurations","ID":"a"}]}`, `[]`} {
		f.Add([]byte(s), "0f8fad5b-d9cb-469f-a165-70867728950e", uint8(1))
	}
	f.Fuzz(func(t *testing.T, raw []byte, id string, pick uint8) {
		c, err := backup.ParseContext(raw)
		if err == nil {
			if !json.Valid(raw) {
				t.Fatalf("ParseContext accepted %q, which is not one JSON document", raw)
			}
			checkContext(t, raw, c)
			enc, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := backup.ParseContext(enc)
			if err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("ParseContext(%q) = %+v; re-encoded %s reads %+v, %v", raw, c, enc, again, err)
			}
		}

		// Accepted: a known type and an id without /?# of 1..200 bytes.
		id = strings.Map(func(r rune) rune {
			if strings.ContainsRune("/?#", r) {
				return -1
			}
			return r
		}, strings.ToValidUTF8(id, ""))
		id = strings.ToValidUTF8(id[:min(len(id), 200)], "")
		if id == "" {
			id = "a"
		}
		typ := inventory.PolicyTypes[int(pick)%len(inventory.PolicyTypes)]
		ref := backup.PolicyRef{Type: typ, ID: id}
		want := backup.Context{Name: "n", Policies: []backup.PolicyRef{ref}}
		good, _ := json.Marshal(want)
		if got, err := backup.ParseContext(good); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseContext(%s) = %+v, %v; want it accepted", good, got, err)
		}
		many := make([]backup.PolicyRef, backup.MaxPolicies+1)
		for i := range many {
			many[i] = backup.PolicyRef{Type: typ, ID: id + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/182)}
		}
		for _, bad := range []any{
			map[string]any{"name": "n", "policies": []backup.PolicyRef{ref}, "unknown": 1},
			map[string]any{"policies": []any{map[string]any{"type": typ, "id": id, "extra": true}}},
			backup.Context{Policies: []backup.PolicyRef{{Type: typ + "x", ID: id}}},
			backup.Context{Policies: []backup.PolicyRef{ref, ref}},
			backup.Context{Policies: []backup.PolicyRef{{Type: typ, ID: id + "/"}}},
			backup.Context{Policies: []backup.PolicyRef{{Type: typ, ID: strings.Repeat("i", 201)}}},
			backup.Context{Name: strings.Repeat("é", 201), Policies: []backup.PolicyRef{ref}},
			backup.Context{Name: "n"},
			map[string]any{"policies": id},
		} {
			raw, _ := json.Marshal(bad)
			if c, err := backup.ParseContext(raw); err == nil {
				t.Fatalf("ParseContext(%s) accepted %+v", raw, c)
			}
		}
		if c, err := backup.ParseContext(append(good, []byte(` {"x":1}`)...)); err == nil {
			t.Fatalf("ParseContext accepted trailing data after %s: %+v", good, c)
		}
		if len(many) > 0 {
			raw, _ := json.Marshal(backup.Context{Policies: many})
			if _, err := backup.ParseContext(raw); err == nil || !strings.Contains(err.Error(), "at most") {
				t.Fatalf("ParseContext accepted %d policies: %v", len(many), err)
			}
		}
	})
}

func checkContext(t *testing.T, raw []byte, c backup.Context) {
	t.Helper()
	if len(c.Policies) == 0 || len(c.Policies) > backup.MaxPolicies || len([]rune(c.Name)) > 200 {
		t.Fatalf("ParseContext(%q) = %+v out of bounds", raw, c)
	}
	seen := map[backup.PolicyRef]bool{}
	for _, p := range c.Policies {
		if !inventory.IsPolicyType(p.Type) || p.ID == "" || len(p.ID) > 200 || strings.ContainsAny(p.ID, "/?#") || seen[p] {
			t.Fatalf("ParseContext(%q) accepted policy %+v", raw, p)
		}
		seen[p] = true
	}
}
