package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/alerts"
	"github.com/tenantatlas/ops/modules/backup"
)

// The JSON request decoders of the API, fuzzed as the pure functions the handlers call
// (no app, no database). Every target checks both sides: what the input decodes to when
// it is accepted (a single JSON document, read back the same after re-encoding), and a
// body built from the fuzz values that must be accepted as exactly those values next to
// spoiled copies of it (an unknown key, a wrong type, trailing data) that must be
// refused with the documented 422.

// status422 fails unless err is a 422 whose message holds want.
func status422(t *testing.T, what string, body []byte, err error, want string) {
	t.Helper()
	var fe *fiber.Error
	if !errors.As(err, &fe) || fe.Code != fiber.StatusUnprocessableEntity || !strings.Contains(fe.Message, want) {
		t.Fatalf("%s %q: %v, want a 422 containing %q", what, body, err, want)
	}
	if len(fe.Message) > 200 {
		t.Fatalf("%s %q: a 422 message of %d bytes", what, body, len(fe.Message))
	}
}

// singleDocument fails unless an accepted body is one JSON document and nothing else.
func singleDocument(t *testing.T, what string, body []byte) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("%s accepted %q, which is not a single JSON document", what, body)
	}
}

// plainKey is "x" plus the letters of s (at most 20): a key no decoder declares.
func plainKey(s string) string {
	var b strings.Builder
	b.WriteString("x")
	for i := 0; i < len(s) && b.Len() < 21; i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withField adds key: value to the JSON object body.
func withField(t *testing.T, body []byte, key string, value any) []byte {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatal(err)
	}
	obj[key] = value
	return marshal(t, obj)
}

var trailers = []string{" {}", "]", "}", " x", `"`}

// FuzzReadScheduleBody fuzzes the body of POST/PATCH .../backup-schedules.
func FuzzReadScheduleBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"cron":"30 2 * * *","timezone":"Europe/Berlin","policyTypes":["deviceConfigurations"],"retention":7,"enabled":true,"name":"n"}`,
		`{"cron":1}`, `{"policyTypes":[1]}`, `{"nope":1}`, `{} {}`, `{}]`, `null`, `[]`, `{"CRON":"x"}`, `{"retention":1e3}`} {
		f.Add([]byte(s), "30 2 * * *", int64(3), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, s string, n int64, b bool) {
		in, err := readScheduleBody(body)
		if err != nil {
			status422(t, "readScheduleBody", body, err, "")
		} else {
			singleDocument(t, "readScheduleBody", body)
			again := marshal(t, scheduleBody{Name: in.Name, Cron: in.Cron, Timezone: in.Timezone, PolicyTypes: in.PolicyTypes, Retention: in.Retention, Enabled: in.Enabled})
			in2, err := readScheduleBody(again)
			if err != nil || !reflect.DeepEqual(in, in2) {
				t.Fatalf("readScheduleBody(%q) = %+v; re-encoded %s reads %+v, %v", body, in, again, in2, err)
			}
		}

		s = strings.ToValidUTF8(s, "")
		r := int(n % 1000)
		want := backup.ScheduleInput{Name: &s, Cron: &s, Timezone: &s, PolicyTypes: &[]string{s}, Retention: &r, Enabled: &b}
		good := marshal(t, scheduleBody{Name: &s, Cron: &s, Timezone: &s, PolicyTypes: &[]string{s}, Retention: &r, Enabled: &b})
		if got, err := readScheduleBody(good); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("readScheduleBody(%s) = %+v, %v; want it accepted", good, got, err)
		}
		key := plainKey(s)
		_, err = readScheduleBody(withField(t, good, key, 1))
		status422(t, "readScheduleBody", good, err, key+": unknown field")
		for field, wrong := range map[string]any{"name": 1, "cron": true, "timezone": []int{1}, "policyTypes": "x", "retention": "7", "enabled": "yes"} {
			bad := withField(t, good, field, wrong)
			_, err := readScheduleBody(bad)
			status422(t, "readScheduleBody", bad, err, field+": must be ")
		}
		for _, tail := range trailers {
			bad := append(bytes.Clone(good), tail...)
			_, err := readScheduleBody(bad)
			status422(t, "readScheduleBody", bad, err, "body: a ")
		}
	})
}

// FuzzReadAlertRuleBody fuzzes the body of POST /api/v1/alert-rules.
func FuzzReadAlertRuleBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"events":["run.failed"],"url":"https://h/x","types":["inventory.sync"],"tenants":["6ba7b810-9dad-11d1-80b4-00c04fd430c8"],"secret":"s"}`,
		`{"workspaceId":"nope"}`, `{"tenants":["x"]}`, `{"unknown":1}`, `{} {}`, `{}]`, `null`, `{"events":"x"}`} {
		f.Add([]byte(s), "https://hooks.example/x", []byte("0123456789abcdef"))
	}
	f.Fuzz(func(t *testing.T, body []byte, s string, idb []byte) {
		r, err := readAlertRuleBody(body)
		var ve *alerts.ValidationError
		switch {
		case errors.As(err, &ve):
			singleDocument(t, "readAlertRuleBody", body)
			for field := range ve.Fields {
				if field != "workspaceId" && field != "tenants" {
					t.Fatalf("readAlertRuleBody(%q): a validation error on %q", body, field)
				}
			}
		case err != nil:
			status422(t, "readAlertRuleBody", body, err, "")
		default:
			singleDocument(t, "readAlertRuleBody", body)
			b := alertRuleBody{Events: r.Events, URL: r.URL, Types: r.Types, Secret: r.Secret}
			if r.WorkspaceID != uuid.Nil {
				b.WorkspaceID = r.WorkspaceID.String()
			}
			for _, id := range r.Tenants {
				b.Tenants = append(b.Tenants, id.String())
			}
			again := marshal(t, b)
			r2, err := readAlertRuleBody(again)
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("readAlertRuleBody(%q) = %+v; re-encoded %s reads %+v, %v", body, r, again, r2, err)
			}
		}

		s = strings.ToValidUTF8(s, "")
		var id uuid.UUID
		copy(id[:], idb)
		want := alerts.NewRule{WorkspaceID: id, Events: []string{s}, URL: s, Types: []string{s}, Tenants: []uuid.UUID{id}, Secret: s}
		good := marshal(t, alertRuleBody{WorkspaceID: id.String(), Events: []string{s}, URL: s, Types: []string{s}, Tenants: []string{id.String()}, Secret: s})
		if got, err := readAlertRuleBody(good); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("readAlertRuleBody(%s) = %+v, %v; want it accepted", good, got, err)
		}
		key := plainKey(s)
		_, err = readAlertRuleBody(withField(t, good, key, 1))
		status422(t, "readAlertRuleBody", good, err, key+": unknown field")
		for field, wrong := range map[string]any{"workspaceId": s + "x", "tenants": []string{s + "x"}} {
			bad := withField(t, good, field, wrong)
			_, err := readAlertRuleBody(bad)
			if !errors.As(err, &ve) || ve.Fields[field] == "" {
				t.Fatalf("readAlertRuleBody(%s): %v, want a validation error naming %s", bad, err, field)
			}
		}
		for _, field := range []string{"events", "url", "types", "tenants", "secret"} {
			bad := withField(t, good, field, 1)
			_, err := readAlertRuleBody(bad)
			status422(t, "readAlertRuleBody", bad, err, "body: a JSON object")
		}
		for _, tail := range trailers {
			bad := append(bytes.Clone(good), tail...)
			_, err := readAlertRuleBody(bad)
			status422(t, "readAlertRuleBody", bad, err, "body: a JSON object")
		}
	})
}

// restoreBodies are the bodies decodeStrict reads, by shape: a pointer to a fresh one.
var restoreBodies = []struct {
	shape string
	new   func() any
	valid func(s string, b bool) any
}{
	{`{"backupSetId"}`, func() any {
		return &struct {
			BackupSetID string `json:"backupSetId"`
		}{}
	}, func(s string, _ bool) any {
		return &struct {
			BackupSetID string `json:"backupSetId"`
		}{s}
	}},
	{`{"confirm","nonce"}`, func() any {
		return &struct {
			Confirm string `json:"confirm"`
			Nonce   string `json:"nonce"`
		}{}
	}, func(s string, _ bool) any {
		return &struct {
			Confirm string `json:"confirm"`
			Nonce   string `json:"nonce"`
		}{s, s + "n"}
	}},
	{`{"highRiskEnabled": true or false}`, func() any {
		return &struct {
			HighRiskEnabled *bool `json:"highRiskEnabled"`
		}{}
	}, func(_ string, b bool) any {
		return &struct {
			HighRiskEnabled *bool `json:"highRiskEnabled"`
		}{&b}
	}},
}

// FuzzDecodeStrict fuzzes the restore bodies (create, execute, the connection's high-risk
// switch): decodeStrict with each of their shapes.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{}`, `{"backupSetId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`, `{"confirm":"x","nonce":"y"}`,
		`{"highRiskEnabled":true}`, `{"highRiskEnabled":"yes"}`, `{} {}`, `{}]`, `null`, `[]`, `{"x":1}`} {
		f.Add([]byte(s), "value", true)
	}
	f.Fuzz(func(t *testing.T, body []byte, s string, b bool) {
		s = strings.ToValidUTF8(s, "")
		for _, rb := range restoreBodies {
			v := rb.new()
			if err := decodeStrict(body, v, rb.shape); err != nil {
				status422(t, "decodeStrict", body, err, "body: a JSON object "+rb.shape+" is expected")
			} else {
				singleDocument(t, "decodeStrict", body)
				again := marshal(t, v)
				v2 := rb.new()
				if err := decodeStrict(again, v2, rb.shape); err != nil || !reflect.DeepEqual(v, v2) {
					t.Fatalf("decodeStrict(%q) = %+v; re-encoded %s reads %+v, %v", body, v, again, v2, err)
				}
			}

			want := rb.valid(s, b)
			good := marshal(t, want)
			got := rb.new()
			if err := decodeStrict(good, got, rb.shape); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeStrict(%s) = %+v, %v; want it accepted", good, got, err)
			}
			for _, bad := range [][]byte{withField(t, good, plainKey(s), 1), []byte(`[` + string(good) + `]`)} {
				status422(t, "decodeStrict", bad, decodeStrict(bad, rb.new(), rb.shape), rb.shape)
			}
			for _, tail := range trailers {
				bad := append(bytes.Clone(good), tail...)
				status422(t, "decodeStrict", bad, decodeStrict(bad, rb.new(), rb.shape), rb.shape)
			}
		}
	})
}

// FuzzReadStartBody fuzzes the body of POST .../operations/{type}/start: the context is
// kept raw for the start gate (FuzzStartContext in modules/operations checks it).
func FuzzReadStartBody(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"context":{"policyTypes":["a"]},"providerConnectionId":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","nonce":"n"}`,
		`{"providerConnectionId":"nope"}`, `{"providerConnectionId":null}`, `{"providerConnectionId":""}`, `[]`, `{} {}`, `{}]`, `{"context":`} {
		f.Add([]byte(s), "nonce", []byte("0123456789abcdef"))
	}
	f.Fuzz(func(t *testing.T, body []byte, s string, idb []byte) {
		b, connID, err := readStartBody(body)
		if err != nil {
			status422(t, "readStartBody", body, err, "")
		} else {
			if len(body) > 0 {
				singleDocument(t, "readStartBody", body)
			}
			if b.Context != nil && !json.Valid(b.Context) {
				t.Fatalf("readStartBody(%q): context %q is not JSON", body, b.Context)
			}
			if connID != uuid.Nil && (b.ProviderConnectionID == nil || *b.ProviderConnectionID == "") {
				t.Fatalf("readStartBody(%q): a connection id from nowhere", body)
			}
		}

		s = strings.ToValidUTF8(s, "")
		var id uuid.UUID
		copy(id[:], idb)
		idStr := id.String()
		ctx := marshal(t, map[string]string{"k": s})
		good := marshal(t, startBody{Context: ctx, ProviderConnectionID: &idStr, Nonce: s})
		got, gotID, err := readStartBody(good)
		if err != nil || gotID != id || got.Nonce != s || !bytes.Equal(got.Context, ctx) {
			t.Fatalf("readStartBody(%s) = %+v, %v, %v; want it accepted", good, got, gotID, err)
		}
		for _, bad := range [][]byte{withField(t, good, "providerConnectionId", s+"x"), withField(t, good, "providerConnectionId", 1),
			withField(t, good, "nonce", 1), append(bytes.Clone(good), " {}"...), append(bytes.Clone(good), "]"...), []byte(`[` + string(good) + `]`)} {
			_, _, err := readStartBody(bad)
			status422(t, "readStartBody", bad, err, "")
		}
	})
}
