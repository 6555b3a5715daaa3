package web_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/projections"
)

// TestAPIListRuns starts runs on two tenants, projects them, and pages through
// GET /api/v1/operations with filters as different principals.
func TestAPIListRuns(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	t0, t1 := h.seed.Tenants[0].ID, h.seed.Tenants[1].ID
	var started []string
	for i := range 7 {
		tenant := t0
		if i%3 == 2 {
			tenant = t1
		}
		code, out := h.call(t, "operator", "POST", "/api/v1/tenants/"+tenant.String()+"/operations/drift.generate/start",
			fmt.Sprintf(`{"context":{"baseline":"i%d"}}`, i))
		require.Equal(t, 200, code)
		started = append(started, out["run"].(map[string]any)["id"].(string))
		time.Sleep(2 * time.Millisecond) // distinct queued_at
	}
	// One blocked run: a provider-backed start on a tenant whose connection is disabled.
	conn, err := h.app.Tenancy.DefaultConnection(t.Context(), t1)
	require.NoError(t, err)
	require.NoError(t, h.app.Tenancy.SetConnectionStatus(t.Context(), "system:test", conn.ID, "disabled", "test"))
	code, blocked := h.call(t, "owner", "POST", "/api/v1/tenants/"+t1.String()+"/operations/inventory.sync/start", `{}`)
	require.Equal(t, 200, code)
	require.Equal(t, "blocked", blocked["status"])

	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		var n int
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_runs`).Scan(&n))
		return n == 8
	}, 30*time.Second, 20*time.Millisecond)

	list := func(who string, q url.Values) (int, []string, string) {
		code, body := h.call(t, who, "GET", "/api/v1/operations?"+q.Encode(), "")
		if code != 200 {
			return code, nil, ""
		}
		var ids []string
		for _, r := range body["runs"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
		next, _ := body["nextCursor"].(string)
		return code, ids, next
	}

	// Newest first, paged 3 at a time, every run exactly once.
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"limit": {"3"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		code, ids, next := list("readonly", q)
		require.Equal(t, 200, code)
		require.LessOrEqual(t, len(ids), 3)
		all = append(all, ids...)
		if next == "" {
			break
		}
		cursor = next
		require.Less(t, page, 5)
	}
	require.Len(t, all, 8)
	require.Equal(t, blocked["run"].(map[string]any)["id"], all[0], "newest first")
	for i := range started {
		require.Equal(t, started[len(started)-1-i], all[i+1])
	}

	_, ids, _ := list("owner", url.Values{"tenant": {t1.String()}})
	require.Len(t, ids, 3)
	_, ids, _ = list("owner", url.Values{"bucket": {"failed"}})
	require.Equal(t, []string{blocked["run"].(map[string]any)["id"].(string)}, ids)
	_, ids, _ = list("owner", url.Values{"type": {"drift.generate"}, "bucket": {"queued"}})
	require.Len(t, ids, 7)
	_, ids, _ = list("owner", url.Values{"since": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}})
	require.Empty(t, ids)
	_, ids, _ = list("owner", url.Values{"until": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}})
	require.Len(t, ids, 8)

	// The outsider sees none of Contoso's runs, even when naming the tenant.
	_, ids, _ = list("outsider", url.Values{})
	require.Empty(t, ids)
	_, ids, _ = list("outsider", url.Values{"tenant": {t0.String()}})
	require.Empty(t, ids)

	for _, bad := range []url.Values{{"bucket": {"done"}}, {"type": {"nope"}}, {"since": {"yesterday"}},
		{"cursor": {"!!"}}, {"tenant": {"acme"}}} {
		code, _, _ := list("owner", bad)
		require.Equal(t, 422, code, bad.Encode())
	}
	code, _ = h.call(t, "", "GET", "/api/v1/operations", "")
	require.Equal(t, 401, code)
}
