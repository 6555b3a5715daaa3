package eventstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	gojson "github.com/goccy/go-json"
)

// Upcaster turns a payload written at schema version From into version From+1.
type Upcaster struct {
	// From is the schema version the upcaster reads.
	From int
	// Fn rewrites the payload to version From+1.
	Fn func(data json.RawMessage) (json.RawMessage, error)
}

type registration struct {
	current   int
	typ       reflect.Type // the struct type (not a pointer)
	pointer   bool         // whether *T (rather than T) implements Event
	upcasters map[int]Upcaster
}

// Registry maps event type names to Go types and schema versions. A type is registered
// at its current schema version with an upcaster for every older version, so events
// written long ago still decode into today's struct.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*registration
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: map[string]*registration{}}
}

// Register records the Go type of sample (a struct value or pointer) under
// sample.EventType() at schemaVersion (≥ 1). upcasters must cover every version from 1
// to schemaVersion-1. Registering the same name twice panics: it is a wiring mistake.
func (r *Registry) Register(sample Event, schemaVersion int, upcasters ...Upcaster) {
	if schemaVersion < 1 {
		panic(fmt.Sprintf("eventstore: %s: schema version must be ≥ 1", sample.EventType()))
	}
	t := reflect.TypeOf(sample)
	reg := &registration{current: schemaVersion, upcasters: map[int]Upcaster{}}
	if t.Kind() == reflect.Pointer {
		reg.typ, reg.pointer = t.Elem(), true
	} else {
		reg.typ = t
	}
	for _, u := range upcasters {
		reg.upcasters[u.From] = u
	}
	for v := 1; v < schemaVersion; v++ {
		if _, ok := reg.upcasters[v]; !ok {
			panic(fmt.Sprintf("eventstore: %s: no upcaster from schema version %d", sample.EventType(), v))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[sample.EventType()]; dup {
		panic(fmt.Sprintf("eventstore: event type %s registered twice", sample.EventType()))
	}
	r.types[sample.EventType()] = reg
}

// SchemaVersion returns the current schema version of a registered type.
func (r *Registry) SchemaVersion(eventType string) (int, error) {
	r.mu.RLock()
	reg, ok := r.types[eventType]
	r.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownEventType, eventType)
	}
	return reg.current, nil
}

// Types lists the registered event type names, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.types))
}

// Decode upcasts data from schemaVersion to the type's current version and decodes it.
func (r *Registry) Decode(eventType string, schemaVersion int, data []byte) (Event, error) {
	r.mu.RLock()
	reg, ok := r.types[eventType]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownEventType, eventType)
	}
	if schemaVersion < 1 { // no upcaster reads it: a nil Fn would panic below
		return nil, fmt.Errorf("eventstore: %s: schema version %d is not a version (they start at 1)", eventType, schemaVersion)
	}
	if schemaVersion > reg.current {
		return nil, fmt.Errorf("eventstore: %s: schema version %d is newer than this build knows (%d)", eventType, schemaVersion, reg.current)
	}
	raw := json.RawMessage(data)
	for v := schemaVersion; v < reg.current; v++ {
		up, err := reg.upcasters[v].Fn(raw)
		if err != nil {
			return nil, fmt.Errorf("eventstore: %s: upcast from v%d: %w", eventType, v, err)
		}
		raw = up
	}
	ptr := reflect.New(reg.typ)
	if err := gojson.Unmarshal(raw, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("eventstore: %s: decode v%d: %w", eventType, schemaVersion, err)
	}
	if reg.pointer {
		return ptr.Interface().(Event), nil
	}
	return ptr.Elem().Interface().(Event), nil
}
