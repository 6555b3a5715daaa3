package web_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// tileRe reads a count tile of the overview: its link, count and column.
var tileRe = regexp.MustCompile(`<li class="tile tile-([a-z_]+)">\s*<a href="([^"]+)"><span class="tile-n">(\d+)</span>`)

// failingRe reads a failing tenant's row: its name and failed count.
var failingRe = regexp.MustCompile(`<td data-label="Tenant"><a href="/admin/t/([0-9a-f-]+)">([^<]+)</a></td>\s*<td data-label="Failed" class="num"><a href="([^"]+)">(\d+)</a>`)

// overviewRuns starts runs through the gate on the seeded tenants — per tenant i, i+1
// runs executed (each ends failed or as its handler decides) and one left queued — and
// waits (bounded) until the projections hold them all; it returns the runs as they ended.
func overviewRuns(t *testing.T, h *hub) []*operations.Run {
	t.Helper()
	ctx := t.Context()
	op := h.seed.Users["operator"]
	var ids []uuid.UUID
	for i, tn := range h.seed.Tenants[:3] {
		for j := range i + 2 {
			out, err := h.app.Operations.Start(ctx, operations.StartRequest{Type: "drift.generate", TenantID: tn.ID,
				Context: fmt.Appendf(nil, `{"baseline":"o%d-%d"}`, i, j), Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}})
			require.NoError(t, err)
			ids = append(ids, out.Run.ID)
			if j > 0 {
				run, err := h.app.Operations.Claim(ctx, operations.Job{RunID: out.Run.ID, Type: "drift.generate"}, "test")
				require.NoError(t, err)
				require.NotNil(t, run)
				h.app.Operations.Execute(ctx, run, "test")
			}
		}
	}
	runs := make([]*operations.Run, len(ids))
	for i, id := range ids {
		var err error
		runs[i], err = h.app.Operations.Load(ctx, id)
		require.NoError(t, err)
	}
	// Every event of these runs is committed: once they are all sealed, one catch-up of
	// each projection shows them all (a sealer running meanwhile could otherwise give
	// scope_counts a run's end that hub_runs had not yet read).
	require.NoError(t, h.app.Store.SealCommitted(ctx))
	require.Eventually(t, func() bool {
		for _, p := range []projections.Projection{projections.HubRuns{}, projections.ScopeCounts{}} {
			_, err := h.app.Runner.CatchUp(ctx, p)
			require.NoError(t, err)
		}
		var n int
		require.NoError(t, h.app.Pool.QueryRow(ctx, `SELECT count(*) FROM rm_scope_counts_runs`).Scan(&n))
		return n == len(ids)
	}, 30*time.Second, 20*time.Millisecond, "the runs never reached scope_counts")
	return runs
}

// tiles reads the overview's count tiles: column → count and link.
func tiles(t *testing.T, body string) (map[string]int, map[string]string) {
	t.Helper()
	counts, links := map[string]int{}, map[string]string{}
	for _, m := range tileRe.FindAllStringSubmatch(body, -1) {
		n, err := strconv.Atoi(m[3])
		require.NoError(t, err)
		counts[m[1]], links[m[1]] = n, html.UnescapeString(m[2])
	}
	require.Len(t, counts, 6, "six tiles: five buckets and blocked")
	return counts, links
}

// TestOverviewCountsLinksAndFailingTenants: the workspace and tenant overviews count
// exactly the runs started and ended through the gate, each count links to a list
// filtered to the same runs (200, as many rows), and the failing tenants come most
// failures first.
func TestOverviewCountsLinksAndFailingTenants(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	runs := overviewRuns(t, h)
	want := map[string]int{}
	failedBy := map[uuid.UUID]int{}
	for _, r := range runs {
		want[string(r.Bucket())]++
		if r.Outcome == operations.OutcomeBlocked {
			want["blocked"]++
		}
		if r.Bucket() == operations.BucketFailed {
			failedBy[r.TenantID]++
		}
	}
	require.NotZero(t, want["queued"], "some runs wait")
	require.NotZero(t, want["failed"], "some runs failed: the failing tenants have rows")

	b := newBrowser(t, h)
	b.login("operator")
	resp, body := b.get("/admin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	counts, links := tiles(t, body)
	for _, col := range []string{"queued", "running", "succeeded", "partially_succeeded", "failed", "blocked"} {
		require.Equal(t, want[col], counts[col], "column %s", col)
		require.Contains(t, links[col], "since=")
		if col != "blocked" {
			require.Contains(t, links[col], "bucket="+col)
		}
		resp, list := b.get(links[col])
		require.Equal(t, http.StatusOK, resp.StatusCode, links[col])
		if col != "blocked" {
			require.Equal(t, want[col], strings.Count(list, `<td data-label="Operation">`), "the list behind %s counts the same", col)
		}
	}
	require.Contains(t, body, `<svg class="spark"`)
	require.Contains(t, body, "queued <time datetime=", "the oldest queued run's age")

	// Failing tenants: most failures first, each linking to its filtered list.
	rows := failingRe.FindAllStringSubmatch(body, -1)
	require.Len(t, rows, len(failedBy))
	prev := 1 << 30
	for _, m := range rows {
		id := uuid.MustParse(m[1])
		n, _ := strconv.Atoi(m[4])
		require.Equal(t, failedBy[id], n)
		require.LessOrEqual(t, n, prev, "most failures first")
		prev = n
		href := html.UnescapeString(m[3])
		require.Contains(t, href, "/admin/t/"+id.String()+"/operations?bucket=failed&since=")
		resp, list := b.get(href)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, n, strings.Count(list, `<td data-label="Operation">`))
		require.Equal(t, n, strings.Count(list, `<span class="reason mono" title="Reason code">`), "a failed row shows its reason code")
	}
	if len(rows) > 1 {
		require.Greater(t, failedBy[uuid.MustParse(rows[0][1])], failedBy[uuid.MustParse(rows[len(rows)-1][1])])
	}

	// A tenant's overview counts its runs only.
	tn := h.seed.Tenants[2]
	resp, body = b.get("/admin/t/" + tn.ID.String() + "?range=7d")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	counts, _ = tiles(t, body)
	total := 0
	for col, n := range counts {
		if col != "blocked" {
			total += n
		}
	}
	require.Equal(t, 4, total, "tenant 2 ran 4 runs")
	resp, _ = b.get("/admin?range=30d")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
}

// TestOverviewRouteRoleMatrix: every member role sees both overviews; an outsider sees the
// workspace overview empty (its own workspace) and gets a 404 for the tenant's; an
// anonymous visitor is sent to sign in.
func TestOverviewRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	tenant := "/admin/t/" + h.seed.Tenants[0].ID.String()
	want := map[string][2]int{"owner": {200, 200}, "operator": {200, 200}, "readonly": {200, 200}, "compliance": {200, 200},
		"outsider": {200, 404}, "": {302, 302}}
	for who, codes := range want {
		b := newBrowser(t, h)
		if who != "" {
			b.login(who)
		}
		for i, path := range []string{"/admin", tenant} {
			resp, body := b.get(path)
			require.Equal(t, codes[i], resp.StatusCode, "%s %s", who, path)
			if who == "outsider" && i == 0 {
				require.NotContains(t, body, h.seed.Tenants[0].Name, "an outsider sees none of the workspace's tenants")
			}
		}
	}
}
