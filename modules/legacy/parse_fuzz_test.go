package legacy_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/legacy"
)

// utc returns row with its times in UTC (a parsed offset is a fresh *time.Location).
func utc(row legacy.Row) legacy.Row {
	row.StartedAt, row.FinishedAt = row.StartedAt.UTC(), row.FinishedAt.UTC()
	return row
}

// FuzzParseLine fuzzes the line parser of `atlas legacy import`. Any line is refused or
// accepted without panicking; an accepted line is one JSON document, and the row
// re-encoded parses back to the same row. Both sides: a row built from the input (every
// field set) is accepted as exactly that row; the same line with an unknown field, a
// field of the wrong type, a malformed UUID, trailing data or not an object is refused.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{`{}`, `{"table":"inventory_sync_runs","id":7,"tenantId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","status":"completed","startedAt":"2024-01-02T03:04:05Z","finishedAt":"2024-01-02T03:05:05+01:00","counts":{"total":3},"error":"","operationRunId":null}`,
		`{"id":"7"}`, `{"tenantId":"nope"}`, `{"unknown":1}`, `{} {}`, `{}]`, `{}}`, `null`, `[]`, `{"startedAt":"yesterday"}`, `{"counts":{"a":1.5}}`} {
		f.Add([]byte(s), "inventory_sync_runs", int64(7), []byte("0123456789abcdef"))
	}
	f.Fuzz(func(t *testing.T, line []byte, s string, n int64, idb []byte) {
		row, err := legacy.ParseLine(line)
		if err == nil {
			if !json.Valid(line) {
				t.Fatalf("ParseLine accepted %q, which is not one JSON document", line)
			}
			enc, err := json.Marshal(row)
			if err != nil {
				t.Fatalf("ParseLine(%q) = %+v, which does not encode: %v", line, row, err)
			}
			again, err := legacy.ParseLine(enc)
			if err != nil || !reflect.DeepEqual(utc(again), utc(row)) {
				t.Fatalf("ParseLine(%q) = %+v; re-encoded %s reads %+v, %v", line, row, enc, again, err)
			}
		}

		s = strings.ToValidUTF8(s, "")
		var id uuid.UUID
		copy(id[:], idb)
		started := time.Unix(max(n%200_000_000_000, -(n%200_000_000_000)), 0).UTC()
		want := legacy.Row{Table: s, ID: n, TenantID: id, Status: s, StartedAt: started, FinishedAt: started.Add(time.Minute),
			Counts: map[string]int64{s: n}, Error: s, OperationRunID: &id}
		good, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := legacy.ParseLine(good); err != nil || !reflect.DeepEqual(utc(got), want) {
			t.Fatalf("ParseLine(%s) = %+v, %v; want %+v", good, got, err, want)
		}
		var obj map[string]any
		if err := json.Unmarshal(good, &obj); err != nil {
			t.Fatal(err)
		}
		spoil := func(key string, v any) []byte {
			c := map[string]any{}
			for k, val := range obj {
				c[k] = val
			}
			c[key] = v
			b, _ := json.Marshal(c)
			return b
		}
		for _, bad := range [][]byte{spoil("x"+s, 1), spoil("id", "7"), spoil("tenantId", s+"x"), spoil("operationRunId", 1),
			spoil("startedAt", s+"x"), spoil("counts", []int{1}), append(bytes.Clone(good), " {}"...), append(bytes.Clone(good), ']'), append(bytes.Clone(good), '}'),
			append(bytes.Clone(good), " x"...), []byte("[" + string(good) + "]")} {
			if got, err := legacy.ParseLine(bad); err == nil {
				t.Fatalf("ParseLine(%s) accepted %+v", bad, got)
			}
		}
	})
}
