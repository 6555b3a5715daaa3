package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/monolith"
)

// pollReadyz asks /readyz until it answers want, for at most 20 seconds, and returns
// the body of that answer.
func pollReadyz(t *testing.T, h *hub, want int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := h.call(t, "", "GET", "/readyz", "")
		if code == want || time.Now().After(deadline) {
			require.Equal(t, want, code, body)
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzNamesAStuckProjection starts a run and seals its events with no runner
// advancing the projections: once they have had work and stood still for the (test's
// short) stall threshold, /readyz answers 503 naming each stuck projection, without SQL;
// when they catch up it answers 200 again. An event nobody seals for the threshold
// turns it 503 naming sealing. /metrics exports the sealing figures.
func TestReadyzNamesAStuckProjection(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost, StallThreshold: 300 * time.Millisecond})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	h := serveHub(t, a, pool, s)
	// The seed's events, projected, so the projections start with nothing to do.
	catchUp := func() {
		t.Helper()
		require.NoError(t, a.Store.SealCommitted(t.Context()))
		for _, p := range monolith.Projections() {
			_, err := a.Runner.CatchUp(t.Context(), p)
			require.NoError(t, err)
		}
	}
	catchUp()
	code, body := h.call(t, "", "GET", "/readyz", "")
	require.Equal(t, 200, code, body)
	require.Equal(t, map[string]any{"database": "ok", "sealing": "ok", "projections": "ok"}, body["checks"])

	code, _ = h.call(t, "operator", "POST", "/api/v1/tenants/"+h.seed.Tenants[0].ID.String()+"/operations/drift.generate/start", `{}`)
	require.Equal(t, 200, code)
	require.NoError(t, a.Store.SealCommitted(t.Context()))

	body = pollReadyz(t, h, 503)
	require.Equal(t, "not_ready", body["status"])
	checks := body["checks"].(map[string]any)
	require.Equal(t, "not ready", checks["projections"])
	require.Regexp(t, `^stuck for \d+s at position \d+, \d+ events behind$`, checks["projection:hub_runs"])
	require.Equal(t, "ok", checks["sealing"])
	require.Contains(t, body["error"].(map[string]any)["message"], "projection:hub_runs")

	catchUp()
	code, body = h.call(t, "", "GET", "/readyz", "")
	require.Equal(t, 200, code, body)

	// No sealer runs here: a committed event left unsealed past the threshold is stuck
	// sealing (named as such, whatever else holds the horizon on the server).
	require.NoError(t, a.Audit.Record(t.Context(), audit.AuditRecorded{Action: "test.unsealed", Outcome: "ok", Actor: "system:test"}))
	body = pollReadyz(t, h, 503)
	require.Regexp(t, `^stuck for \d+s: 1 committed events wait for a global position; `, body["checks"].(map[string]any)["sealing"])
	catchUp()
	pollReadyz(t, h, 200)

	resp, err := http.Get(h.base + "/metrics")
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for _, want := range []string{"atlas_events_unsealed 0", "atlas_seal_oldest_unsealed_age_seconds 0", "atlas_seal_head_position ",
		"atlas_seal_last_timestamp_seconds "} {
		require.True(t, strings.Contains(string(raw), "\n"+want), "missing %s", want)
	}
}
