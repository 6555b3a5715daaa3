package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// TestAdminLegacyRunRedirect: a legacy run view URL redirects to the canonical viewer
// when the row maps to a run the caller may view; unknown rows and tables, and callers
// of another workspace, get the 404 page.
func TestAdminLegacyRunRedirect(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	res, err := h.app.Legacy.Import(t.Context(), legacy.Row{Table: "entra_group_sync_runs", ID: 7,
		TenantID: h.seed.Tenants[0].ID, Status: "completed", StartedAt: time.Now().Add(-time.Hour), FinishedAt: time.Now()})
	require.NoError(t, err)
	require.Equal(t, legacy.Imported, res)
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(t.Context(), projections.LegacyRuns{})
		require.NoError(t, err)
		_, err = h.app.Runs.LegacyRun(t.Context(), "entra_group_sync_runs", 7)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)

	owner := newBrowser(t, h)
	owner.login("owner")
	resp, _ := owner.get("/admin/legacy/entra_group_sync_runs/7")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, operations.RunURL(legacy.RunID("entra_group_sync_runs", 7)), resp.Header.Get("Location"))
	resp, body := owner.get(resp.Header.Get("Location"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "legacy import", "the viewer shows the imported run's history")
	for _, path := range []string{"/admin/legacy/entra_group_sync_runs/8", "/admin/legacy/entra_group_sync_runs/x", "/admin/legacy/users/7"} {
		resp, _ = owner.get(path)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
	outsider := newBrowser(t, h)
	outsider.login("outsider")
	resp, _ = outsider.get("/admin/legacy/entra_group_sync_runs/7")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another workspace's history is not revealed")
	resp, _ = newBrowser(t, h).get("/admin/legacy/entra_group_sync_runs/7")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/admin/login", resp.Header.Get("Location"))
}
