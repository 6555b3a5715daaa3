package monolith_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/monolith"
)

// FuzzDecodeEvents fuzzes the decoding of every registered event type (the registry the
// store reads the log with): any payload at any schema version is decoded or refused,
// never a panic. An accepted payload decodes to an event of its type whose encoding
// decodes back to the same encoding. Both sides: the type's zero event and the accepted
// event re-encoded are accepted at the current version; the same payload at a version
// newer than the current one, below 1, under an unknown type, or as a JSON array is
// refused. (No type has an upcaster yet: all are at schema version 1.)
func FuzzDecodeEvents(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `[]`, `"x"`, `{"runId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`, `{"runId":"nope"}`,
		`{"at":"2026-01-01T00:00:00Z"}`, `{"at":"yesterday"}`, `{"counts":{"a":1}}`, `{"x":1e400}`, ``} {
		f.Add(uint8(0), 1, []byte(s))
		f.Add(uint8(7), 1, []byte(s))
	}
	f.Add(uint8(3), 0, []byte(`{}`))
	reg := monolith.Registry()
	types := reg.Types()
	f.Fuzz(func(t *testing.T, pick uint8, version int, data []byte) {
		typ := types[int(pick)%len(types)]
		current, err := reg.SchemaVersion(typ)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := reg.Decode(typ, version, data)
		if err == nil {
			if ev.EventType() != typ || version < 1 || version > current {
				t.Fatalf("Decode(%s, v%d, %q) = %T %s", typ, version, data, ev, ev.EventType())
			}
			enc, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("Decode(%s, %q) = %#v, which does not encode: %v", typ, data, ev, err)
			}
			again, err := reg.Decode(typ, current, enc)
			if err != nil {
				t.Fatalf("Decode(%s, %q) re-encoded %s is refused: %v", typ, data, enc, err)
			}
			enc2, _ := json.Marshal(again)
			if !bytes.Equal(enc, enc2) {
				t.Fatalf("Decode(%s): %s reads back as %s", typ, enc, enc2)
			}
			data = enc
		} else {
			data = []byte(`{}`)
		}
		if _, err := reg.Decode(typ, current, data); err != nil {
			t.Fatalf("Decode(%s, v%d, %s): %v", typ, current, data, err)
		}
		for _, v := range []int{current + 1, 0, -1} {
			if ev, err := reg.Decode(typ, v, data); err == nil {
				t.Fatalf("Decode(%s, v%d, %s) = %#v, want refused", typ, v, data, ev)
			}
		}
		if _, err := reg.Decode(typ+".x", current, data); !errors.Is(err, eventstore.ErrUnknownEventType) {
			t.Fatalf("Decode of an unknown type: %v", err)
		}
		if ev, err := reg.Decode(typ, current, []byte(`[`+string(data)+`]`)); err == nil {
			t.Fatalf("Decode(%s) of an array = %#v", typ, ev)
		}
	})
}
