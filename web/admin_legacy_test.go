package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
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

// TestAdminLegacyHistoryPage: a legacy row no run maps to (it names an operation run
// that does not exist) renders a read-only history page (its table, id, tenant, status,
// times, counts and sanitized error; no form, no button) to members of its tenant and a
// 404 to anyone else; once a later import links it to a run that exists, the same URL
// redirects to the canonical viewer.
func TestAdminLegacyHistoryPage(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	ctx := t.Context()
	tenant := h.seed.Tenants[0].ID
	row := legacy.Row{Table: "inventory_sync_runs", ID: 21, TenantID: tenant, Status: "failed",
		StartedAt: time.Now().Add(-2 * time.Hour), FinishedAt: time.Now().Add(-2*time.Hour + 90*time.Second),
		Counts: map[string]int64{"total": 40, "failed": 2, "bogus": 9}, Error: "Graph refused: client_secret=s3cr3tvalue", OperationRunID: ptr(uuid.New())}
	res, err := h.app.Legacy.Import(ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Recorded, res)
	res, err = h.app.Legacy.Import(ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Unchanged, res, "importing again changes nothing")
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(ctx, projections.LegacyRuns{})
		require.NoError(t, err)
		_, err = h.app.Runs.LegacyHistoryRow(ctx, "inventory_sync_runs", 21)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)

	path := "/admin/legacy/inventory_sync_runs/21"
	for _, who := range []string{"owner", "readonly", "compliance"} {
		b := newBrowser(t, h)
		b.login(who)
		resp, body := b.get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, who)
		m := mainRe.FindStringSubmatch(body)
		require.NotNil(t, m)
		main := m[1]
		require.Contains(t, main, "inventory_sync_runs #21")
		require.Contains(t, main, h.seed.Tenants[0].Name)
		require.Contains(t, main, "<dd>failed</dd>")
		require.Contains(t, main, `<td>total</td><td class="num">40</td>`)
		require.NotContains(t, main, "bogus", "counts outside the closed set are dropped")
		require.Contains(t, main, `id="legacy-error"`)
		require.NotContains(t, main, "s3cr3tvalue", "the error is sanitized")
		require.Contains(t, main, "does not exist")
		require.NotContains(t, main, "<form", "no start or retry on a legacy page")
		require.NotContains(t, main, "<button")
		require.NotContains(t, main, "/start")
	}
	outsider := newBrowser(t, h)
	outsider.login("outsider")
	resp, _ := outsider.get(path)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another workspace's history is not revealed")
	owner := newBrowser(t, h)
	owner.login("owner")
	resp, _ = owner.get("/admin/legacy/inventory_sync_runs/22")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "an unknown row")

	// A later import names a run that exists: the row is linked and the URL redirects.
	out, err := h.app.Operations.Start(ctx, operations.StartRequest{Type: "drift.generate", TenantID: tenant,
		Initiator: operations.Initiator{Kind: "system", Name: "test"}, SourceSurface: "test"})
	require.NoError(t, err)
	row.OperationRunID = &out.Run.ID
	res, err = h.app.Legacy.Import(ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Linked, res)
	require.Eventually(t, func() bool {
		_, err := h.app.Runner.CatchUp(ctx, projections.LegacyRuns{})
		require.NoError(t, err)
		_, err = h.app.Runs.LegacyRun(ctx, "inventory_sync_runs", 21)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	resp, _ = owner.get(path)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, operations.RunURL(out.Run.ID), resp.Header.Get("Location"))
}

func ptr[T any](v T) *T { return &v }
