package web_test

import (
	"html"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// TestRunFilterSameAnswerOnBothSurfaces: a bad run-list filter is a 422 with the same
// message on the hub's operations list (its error page) and the API's (its JSON error).
func TestRunFilterSameAnswerOnBothSurfaces(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	reader := newBrowser(t, h)
	reader.login("readonly")
	for _, q := range []string{"type=nope", "bucket=done", "range=1y", "since=yesterday", "until=2026-13-01T00:00", "cursor=!!", "cursor=YWJj"} {
		code, body := h.call(t, "readonly", "GET", "/api/v1/operations?"+q, "")
		require.Equal(t, http.StatusUnprocessableEntity, code, q)
		message, _ := body["error"].(map[string]any)["message"].(string)
		require.NotEmpty(t, message, q)
		resp, page := reader.get("/admin/operations?" + q)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, q)
		require.Contains(t, page, html.EscapeString(message), q)
	}
}
