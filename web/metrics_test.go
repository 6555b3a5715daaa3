package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/projections"
)

// TestMetricsAndReadiness checks /metrics exports the HTTP histogram, projection lag
// and runs by bucket, and /readyz reports projections that have not caught up.
func TestMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	code, _ := h.call(t, "operator", "POST", "/api/v1/tenants/"+h.seed.Tenants[0].ID.String()+"/operations/drift.generate/start", `{}`)
	require.Equal(t, 200, code)
	// Sealing (and so projecting) waits for older transactions anywhere on the server.
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		var runs int
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_runs`).Scan(&runs))
		st, err := h.app.Runner.Status(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		return runs == 1 && st[0].Lag == 0
	}, 30*time.Second, 20*time.Millisecond)

	resp, err := http.Get(h.base + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	text := string(body)
	for _, want := range []string{
		`atlas_http_request_duration_seconds_bucket{method="POST",route="/api/v1/tenants/:tenant/operations/:type/start",status="200"`,
		`atlas_projection_lag_events{projection="hub_runs"} 0`,
		`atlas_runs{bucket="queued"} 1`,
		`atlas_projection_applied_events_total{projection="hub_runs"}`,
	} {
		require.True(t, strings.Contains(text, want), "missing %s in:\n%s", want, text)
	}

	code, ready := h.call(t, "", "GET", "/readyz", "")
	require.Equal(t, 200, code)
	require.Equal(t, "ready", ready["status"])

	// A log the projection has not read yet: far behind makes the server not ready.
	_, err = h.app.Pool.Exec(t.Context(), `UPDATE proj_checkpoints SET position = 0 WHERE name = 'hub_runs';
		UPDATE es_seal_head SET position = position + 5000`)
	require.NoError(t, err)
	code, _ = h.call(t, "", "GET", "/readyz", "")
	require.Equal(t, 503, code)
}
