package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/projections"
)

// TestRunListsShowTenantNames: the workspace operations list, which lists the runs of
// several tenants, names each run's tenant (the id stays in the link's title), and the
// API list adds the name as tenantName.
func TestRunListsShowTenantNames(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	runs := map[string]string{} // run id → tenant id
	for _, tn := range h.seed.Tenants[:2] {
		code, out := h.call(t, "operator", "POST", "/api/v1/tenants/"+tn.ID.String()+"/operations/drift.generate/start", `{"context":{"baseline":"names"}}`)
		require.Equal(t, 200, code)
		runs[out["run"].(map[string]any)["id"].(string)] = tn.ID.String()
	}
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.HubRuns{})
		require.NoError(t, err)
		var n int
		ids := make([]string, 0, len(runs))
		for id := range runs {
			ids = append(ids, id)
		}
		require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM rm_runs WHERE run_id = ANY($1::uuid[])`, ids).Scan(&n))
		return n == len(runs)
	}, 30*time.Second, 20*time.Millisecond)

	reader := newBrowser(t, h)
	reader.login("readonly")
	resp, body := reader.get("/admin/operations?type=drift.generate")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, tn := range h.seed.Tenants[:2] {
		id := tn.ID.String()
		require.Contains(t, body, `<td data-label="Tenant"><a href="/admin/t/`+id+`/operations" title="`+id+`">`+tn.Name+`</a></td>`,
			"the row names the tenant")
		require.NotContains(t, body, `>`+id[:8]+`</a>`, "no id prefix for a tenant with a name")
	}

	code, out := h.call(t, "readonly", "GET", "/api/v1/operations?type=drift.generate&limit=200&since="+since, "")
	require.Equal(t, 200, code)
	names := map[string]string{}
	for _, tn := range h.seed.Tenants {
		names[tn.ID.String()] = tn.Name
	}
	seen := 0
	for _, r := range out["runs"].([]any) {
		r := r.(map[string]any)
		tenant, ok := runs[r["id"].(string)]
		if !ok {
			continue
		}
		seen++
		require.Equal(t, tenant, r["tenantId"])
		require.Equal(t, names[tenant], r["tenantName"])
	}
	require.Equal(t, len(runs), seen)
}
