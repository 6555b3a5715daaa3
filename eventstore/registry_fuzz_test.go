package eventstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tenantatlas/ops/eventstore"
)

// labelSetRegistry is TestUpcasting's v2 registry: LabelSet at schema version 2, with
// the upcaster from v1 (label → displayName, locale "en").
func labelSetRegistry() *eventstore.Registry {
	r := eventstore.NewRegistry()
	r.Register(labelSetV2{}, 2, eventstore.Upcaster{From: 1, Fn: func(data json.RawMessage) (json.RawMessage, error) {
		var old labelSetV1
		if err := json.Unmarshal(data, &old); err != nil {
			return nil, err
		}
		return json.Marshal(labelSetV2{DisplayName: old.Label, Locale: "en"})
	}})
	return r
}

// FuzzRegistryDecode fuzzes Registry.Decode through an upcaster chain (no module has an
// upcaster yet: every production event type is at schema version 1, and
// FuzzDecodeEvents in modules/monolith fuzzes those). Any payload at any version is
// decoded or refused with an error, never a panic. Both sides: a v1 payload built from
// the input is upcast to exactly the v2 value, a v2 payload decodes as itself; a version
// newer than the registry's, a version below 1, an unknown type and a payload that is not
// an object are refused.
func FuzzRegistryDecode(f *testing.F) {
	for _, s := range []string{`{"label":"Contoso"}`, `{"displayName":"x","locale":"de"}`, `{}`, `null`, `[]`, `"x"`, `{"label":1}`, ``} {
		f.Add([]byte(s), 1, "Contoso")
		f.Add([]byte(s), 2, "Contoso")
	}
	f.Add([]byte(`{}`), 0, "")
	reg := labelSetRegistry()
	f.Fuzz(func(t *testing.T, data []byte, version int, label string) {
		ev, err := reg.Decode("LabelSet", version, data)
		if err == nil {
			if _, ok := ev.(labelSetV2); !ok || version < 1 || version > 2 {
				t.Fatalf("Decode(v%d, %q) = %#v", version, data, ev)
			}
		}

		label = strings.ToValidUTF8(label, "")
		v1, _ := json.Marshal(labelSetV1{Label: label})
		if ev, err := reg.Decode("LabelSet", 1, v1); err != nil || ev != (labelSetV2{DisplayName: label, Locale: "en"}) {
			t.Fatalf("Decode(v1, %s) = %#v, %v; want it upcast", v1, ev, err)
		}
		v2, _ := json.Marshal(labelSetV2{DisplayName: label, Locale: label})
		if ev, err := reg.Decode("LabelSet", 2, v2); err != nil || ev != (labelSetV2{DisplayName: label, Locale: label}) {
			t.Fatalf("Decode(v2, %s) = %#v, %v", v2, ev, err)
		}
		for _, v := range []int{3, 0, -1, version%1000 + 1000} {
			if ev, err := reg.Decode("LabelSet", v, v1); err == nil {
				t.Fatalf("Decode(v%d, %s) = %#v, want refused", v, v1, ev)
			}
		}
		if _, err := reg.Decode("LabelSet."+label, 1, v1); !errors.Is(err, eventstore.ErrUnknownEventType) {
			t.Fatalf("Decode of an unknown type: %v", err)
		}
		for _, v := range []int{1, 2} {
			if ev, err := reg.Decode("LabelSet", v, []byte(`[`+string(v1)+`]`)); err == nil {
				t.Fatalf("Decode(v%d) of an array = %#v", v, ev)
			}
		}
	})
}
