package operations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// FieldKind is the JSON type a start-context field must have.
type FieldKind int

// The field kinds of a context schema.
const (
	// KindString is a JSON string.
	KindString FieldKind = iota + 1
	// KindBool is true or false.
	KindBool
	// KindInt is a JSON number without fraction or exponent that fits an int64.
	KindInt
	// KindStrings is an array of strings.
	KindStrings
	// KindUUID is a UUID string in its canonical lower-case 36-character form (so one
	// UUID has one spelling, and one dedupe identity).
	KindUUID
	// KindObjects is an array of objects, each checked against Field.Fields.
	KindObjects
)

// kindWords says what a value of each kind must be, for error messages.
var kindWords = map[FieldKind]string{
	KindString:  "must be a string",
	KindBool:    "must be true or false",
	KindInt:     "must be an integer",
	KindStrings: "must be an array of strings",
	KindUUID:    "must be a UUID (lower-case, 36 characters)",
	KindObjects: "must be an array of objects",
}

// Field is one declared field of a run type's start context.
type Field struct {
	// Name is the JSON key.
	Name string
	// Kind is the JSON type the value must have (null is never accepted).
	Kind FieldKind
	// Required fields must be present.
	Required bool
	// Fields is the schema of each element of a KindObjects field.
	Fields []Field
}

// ContextSchema is the closed set of fields a run type's start context may hold: a key
// it does not declare, a value of the wrong type or a missing required field makes the
// start fail with ErrInvalidContext (422), naming the field, before the dedupe identity
// is derived. A type with no fields accepts only {}.
type ContextSchema []Field

// ErrContextField is wrapped by every schema violation; the message names the field
// ("context.policyTypes: must be an array of strings", "context.foo: unknown field").
var ErrContextField = errors.New("context field")

// fieldError is one schema violation at path.
type fieldError struct{ path, problem string }

func (e *fieldError) Error() string { return e.path + ": " + e.problem }

func (e *fieldError) Unwrap() error { return ErrContextField }

// Check validates a canonical context (a JSON object, see normalizeContext) against
// the schema. Every violation is reported, in key order.
func (sc ContextSchema) Check(ctxJSON json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ctxJSON, &obj); err != nil || obj == nil {
		return &fieldError{path: "context", problem: "must be a JSON object"}
	}
	var errs []error
	checkObject(sc, obj, "context", &errs)
	return errors.Join(errs...)
}

// checkObject checks obj against fields, appending violations under path.
func checkObject(fields []Field, obj map[string]json.RawMessage, path string, errs *[]error) {
	byName := make(map[string]Field, len(fields))
	for _, f := range fields {
		byName[f.Name] = f
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		f, ok := byName[k]
		if !ok {
			*errs = append(*errs, &fieldError{path: fieldPath(path, k), problem: "unknown field"})
			continue
		}
		if problem := checkValue(f, obj[k], fieldPath(path, k), errs); problem != "" {
			*errs = append(*errs, &fieldError{path: fieldPath(path, k), problem: problem})
		}
	}
	for _, f := range fields {
		if _, ok := obj[f.Name]; f.Required && !ok {
			*errs = append(*errs, &fieldError{path: fieldPath(path, f.Name), problem: "required field missing"})
		}
	}
}

// checkValue returns what is wrong with the value of f, or ""; nested objects append
// their own violations under path.
func checkValue(f Field, raw json.RawMessage, path string, errs *[]error) string {
	raw = bytes.TrimSpace(raw)
	wrong := kindWords[f.Kind]
	switch f.Kind {
	case KindString:
		if _, ok := jsonString(raw); !ok {
			return wrong
		}
	case KindBool:
		if !bytes.Equal(raw, []byte("true")) && !bytes.Equal(raw, []byte("false")) {
			return wrong
		}
	case KindInt:
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			return wrong
		}
	case KindUUID:
		s, ok := jsonString(raw)
		if !ok {
			return wrong
		}
		if id, err := uuid.Parse(s); err != nil || id.String() != s {
			return wrong
		}
	case KindStrings:
		list, ok := jsonArray(raw)
		if !ok {
			return wrong
		}
		for _, el := range list {
			if !isJSONString(bytes.TrimSpace(el)) {
				return wrong
			}
		}
	case KindObjects:
		list, ok := jsonArray(raw)
		if !ok {
			return wrong
		}
		for i, el := range list {
			var obj map[string]json.RawMessage
			if el = bytes.TrimSpace(el); len(el) == 0 || el[0] != '{' || json.Unmarshal(el, &obj) != nil {
				*errs = append(*errs, &fieldError{path: fmt.Sprintf("%s[%d]", path, i), problem: "must be an object"})
				continue
			}
			checkObject(f.Fields, obj, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	default:
		return "has no declared type"
	}
	return ""
}

// isJSONString reports whether raw is a JSON string literal.
func isJSONString(raw []byte) bool { return len(raw) >= 2 && raw[0] == '"' }

// jsonString decodes raw, a JSON string literal.
func jsonString(raw []byte) (s string, ok bool) {
	ok = isJSONString(raw) && json.Unmarshal(raw, &s) == nil
	return s, ok
}

// jsonArray decodes raw, a JSON array, keeping its elements raw.
func jsonArray(raw []byte) (list []json.RawMessage, ok bool) {
	ok = len(raw) > 0 && raw[0] == '[' && json.Unmarshal(raw, &list) == nil
	return list, ok
}

// fieldPath is path.key, or path["key"] (quoted, cut to 64 bytes) when key is not a
// plain name: a key is caller input and goes back into an error message.
func fieldPath(path, key string) string {
	plain := key != "" && len(key) <= 64
	for i := 0; plain && i < len(key); i++ {
		plain = isAlnum(key[i]) || key[i] == '_'
	}
	if plain {
		return path + "." + key
	}
	if len(key) > 64 {
		key = strings.ToValidUTF8(key[:64], "") + "…"
	}
	return path + "[" + strconv.QuoteToASCII(key) + "]"
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
