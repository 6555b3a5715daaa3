package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestRunFailuresBoundedAndInitiatorRedacted: a handler reporting 250 failures gives a
// run whose RunDetail holds the first 100 and failuresOmitted 150, whose page says "and
// 150 more", and whose events carry at most 100 failure entries; the events answer
// shows another member the initiator without IP or user agent, as the detail does.
func TestRunFailuresBoundedAndInitiatorRedacted(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	h.app.Operations.Handle("restore.execute", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		for i := range 250 {
			if err := rep.Fail(ctx, failure.ItemFailed, fmt.Sprintf("item %d could not be restored", i)); err != nil {
				return "", err
			}
		}
		return operations.OutcomeSucceeded, nil
	})
	owner := h.seed.Users["owner"]
	out, err := h.app.Operations.Start(t.Context(), operations.StartRequest{Type: "restore.execute", TenantID: h.seed.Tenants[0].ID,
		Context:       []byte(`{"restoreId":"` + uuid.NewString() + `"}`),
		Initiator:     operations.Initiator{Kind: "user", UserID: owner.ID, Name: owner.Email, IP: "203.0.113.77", UserAgent: "AtlasSecretAgent/9.1"},
		SourceSurface: "api"})
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	run, err := h.app.Operations.Claim(t.Context(), operations.Job{RunID: out.Run.ID, Type: "restore.execute"}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	h.app.Operations.Execute(t.Context(), run, "test")

	id := out.Run.ID.String()
	code, detail := h.call(t, "readonly", "GET", "/api/v1/operations/"+id, "")
	require.Equal(t, 200, code)
	require.Equal(t, "partially_succeeded", detail["outcome"])
	failures := detail["failures"].([]any)
	require.Len(t, failures, 100)
	require.Equal(t, "item 0 could not be restored", failures[0].(map[string]any)["message"])
	require.Equal(t, "item 99 could not be restored", failures[99].(map[string]any)["message"])
	require.EqualValues(t, 150, detail["failuresOmitted"])

	reader := newBrowser(t, h)
	reader.login("readonly")
	resp, body := reader.get("/admin/operations/" + id)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "item 99 could not be restored")
	require.NotContains(t, body, "item 100 could not be restored")
	require.Contains(t, body, "and 150 more")

	code, evs := h.call(t, "compliance", "GET", "/api/v1/operations/"+id+"/events", "")
	require.Equal(t, 200, code)
	raw, err := json.Marshal(evs)
	require.NoError(t, err)
	for _, leak := range []string{"203.0.113.77", "AtlasSecretAgent", `"ip"`, `"userAgent"`} {
		require.NotContains(t, string(raw), leak, "another member's view of the events")
	}
	entries := 0
	for _, e := range evs["events"].([]any) {
		ev := e.(map[string]any)
		data := ev["data"].(map[string]any)
		switch ev["type"] {
		case "RunQueued":
			require.Equal(t, map[string]any{"kind": "user", "userId": owner.ID.String(), "name": owner.Email}, data["initiator"])
		case "RunFailuresAppended":
			entries += len(data["failures"].([]any))
		}
	}
	require.Equal(t, 100, entries, "the log holds the first 100 failure messages only")
}

// TestAPIStartContextIsStrict: an undeclared key or a wrongly typed value is a 422
// naming the field, and no run is started.
func TestAPIStartContextIsStrict(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	base := "/api/v1/tenants/" + h.seed.Tenants[2].ID.String() + "/operations/"
	for _, tt := range []struct{ typ, body, want string }{
		{"drift.generate", `{"context":{"foo":1}}`, "context.foo: unknown field"},
		{"drift.generate", `{"context":{"baseline":5}}`, "context.baseline: must be a string"},
		{"inventory.sync", `{"context":{"policyTypes":"deviceConfigurations"}}`, "context.policyTypes: must be an array of strings"},
		{"directory.groups.sync", `{"context":{"full":true}}`, "context.full: unknown field"},
	} {
		code, out := h.call(t, "operator", "POST", base+tt.typ+"/start", tt.body)
		require.Equal(t, http.StatusUnprocessableEntity, code, tt.body)
		msg := out["error"].(map[string]any)["message"].(string)
		require.True(t, strings.Contains(msg, tt.want), "%s: %q", tt.body, msg)
	}
}
