package operations

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// validContext builds a context every field of schema accepts from the fuzz values
// (s for strings, id for UUIDs), required fields included.
func validContext(schema ContextSchema, s string, id uuid.UUID) map[string]any {
	obj := map[string]any{}
	for _, f := range schema {
		switch f.Kind {
		case KindString:
			obj[f.Name] = s
		case KindBool:
			obj[f.Name] = len(s)%2 == 0
		case KindInt:
			obj[f.Name] = len(s)
		case KindStrings:
			obj[f.Name] = []string{s, s + "2"}
		case KindUUID:
			obj[f.Name] = id.String()
		case KindObjects:
			obj[f.Name] = []any{validContext(f.Fields, s, id)}
		}
	}
	return obj
}

// wrongValue is a JSON value f's kind refuses.
func wrongValue(f Field) any {
	switch f.Kind {
	case KindString, KindUUID:
		return 7
	default:
		return "x"
	}
}

// startContext is the start gate's reading of a context for info: canonical form, then
// the type's schema.
func startContext(info TypeInfo, raw []byte) (json.RawMessage, error) {
	canon, err := normalizeContext(raw)
	if err != nil {
		return nil, err
	}
	if err := info.Context.Check(canon); err != nil {
		return nil, errors.Join(ErrInvalidContext, err)
	}
	return canon, nil
}

// FuzzStartContext fuzzes the start gate's context decoder (normalizeContext, then the
// run type's ContextSchema) for every run type of the catalog. Any input is refused with
// ErrInvalidContext or accepted as a canonical JSON object that reads back the same
// (idempotent) and that the schema accepts again; never a panic. Both sides: a context
// built from the input with every declared field (right kinds) is accepted; the same
// with an unknown key, a field of the wrong kind, a non-canonical UUID, a missing
// required field, trailing data or more than maxContextBytes is refused, naming the field.
func FuzzStartContext(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"policyTypes":["a"]}`, `{"scheduleId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`,
		`{"policies":[{"type":"deviceConfigurations","id":"x"}]}`, `{"a":1} {}`, `{"policies":[1,{}]}`, `{"scheduleId":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8"}`,
		`{"x":1e400}`, `{"\u00e9\"":null}`, `{"name":"<&>"}`, `{}]`} {
		f.Add([]byte(s), "value", []byte("0123456789abcdef"))
	}
	types := Types()
	f.Fuzz(func(t *testing.T, raw []byte, s string, idb []byte) {
		for _, info := range types {
			canon, err := startContext(info, raw)
			if err != nil {
				if !errors.Is(err, ErrInvalidContext) {
					t.Fatalf("%s: %q refused with %v, not ErrInvalidContext", info.Type, raw, err)
				}
				if len(err.Error()) > 2000+len(info.Context)*200 && len(raw) < 200 {
					t.Fatalf("%s: unbounded error for %q: %d bytes", info.Type, raw, len(err.Error()))
				}
				continue
			}
			if len(bytes.TrimSpace(raw)) > 0 && !json.Valid(raw) {
				t.Fatalf("%s: accepted %q, which is not one JSON document", info.Type, raw)
			}
			if len(canon) == 0 || canon[0] != '{' {
				t.Fatalf("%s: %q accepted as %q, not an object", info.Type, raw, canon)
			}
			again, err := startContext(info, canon)
			if err != nil || !bytes.Equal(again, canon) {
				t.Fatalf("%s: canonical %q reads back as %q, %v", info.Type, canon, again, err)
			}
		}

		s = strings.ToValidUTF8(s[:min(len(s), 500)], "")
		var id uuid.UUID
		copy(id[:], idb)
		for _, info := range types {
			good := validContext(info.Context, s, id)
			if _, err := startContext(info, mustJSON(t, good)); err != nil {
				t.Fatalf("%s: a valid context %s is refused: %v", info.Type, mustJSON(t, good), err)
			}
			refuse := func(why string, obj any, field string) {
				t.Helper()
				raw := mustJSON(t, obj)
				_, err := startContext(info, raw)
				if !errors.Is(err, ErrInvalidContext) || !strings.Contains(err.Error(), field) {
					t.Fatalf("%s: %s %s: %v, want ErrInvalidContext naming %q", info.Type, why, raw, err, field)
				}
			}
			unknown := withKey(good, "zz"+fieldSafe(s), true)
			refuse("unknown key", unknown, "context.zz"+fieldSafe(s)+": unknown field")
			for _, fl := range info.Context {
				refuse("wrong kind", withKey(good, fl.Name, wrongValue(fl)), "context."+fl.Name+": must be")
				if fl.Kind == KindUUID {
					refuse("upper-case UUID", withKey(good, fl.Name, strings.ToUpper(uuid.New().String())), "context."+fl.Name)
				}
				if fl.Required {
					missing := withKey(good, fl.Name, nil)
					delete(missing, fl.Name)
					refuse("missing required field", missing, "context."+fl.Name+": required field missing")
				}
			}
			trailing := append(mustJSON(t, good), []byte(" {}")...)
			if _, err := startContext(info, trailing); !errors.Is(err, ErrInvalidContext) {
				t.Fatalf("%s: trailing data accepted: %q", info.Type, trailing)
			}
		}
		huge := []byte(`{"name":"` + strings.Repeat("a", maxContextBytes) + `"}`)
		if _, err := normalizeContext(huge); !errors.Is(err, ErrInvalidContext) {
			t.Fatalf("a context over %d bytes is accepted", maxContextBytes)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withKey copies obj with key set to v.
func withKey(obj map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(obj)+1)
	for k, val := range obj {
		out[k] = val
	}
	out[key] = v
	return out
}

// fieldSafe keeps the letters and digits of s (at most 20), so the key is a plain name.
func fieldSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 20; i++ {
		if isAlnum(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
