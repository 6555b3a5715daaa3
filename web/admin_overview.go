package web

import (
	"cmp"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// The overview (/admin for the workspace, /admin/t/{tenant} for one tenant) answers
// what is failing, where and since when from the scope_counts read model alone: runs
// queued in the window by column, the tenants with failed runs first, the runs finished
// per hour as a sparkline, and the oldest queued run's age.

// overviewRanges are the overview's windows, back from now.
var overviewRanges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// msgOverviewRange is the 422 message of a bad overview window.
const msgOverviewRange = "range must be one of 24h, 7d."

// overviewFailingLimit is how many failing tenants the workspace overview lists.
const overviewFailingLimit = 20

// overviewColumn is one count of the overview: runs of a column in the window.
type overviewColumn struct {
	Label, Col string
	N          int64
	// Href is the run list filtered to what the count counts.
	Href string
	// Note says what the count includes, when it is not plain.
	Note string
}

// failingTenant is a tenant with failed runs in the window.
type failingTenant struct {
	ID            uuid.UUID
	Name          string
	Failed, Total int64
	Href          string
}

// overviewPage is the data of the overview template.
type overviewPage struct {
	Tenant  *tenancy.Tenant
	Range   string
	Ranges  []overviewRangeLink
	Since   time.Time
	Columns []overviewColumn
	Failing []failingTenant
	// Spark is the throughput sparkline (inline SVG); Finished is its total, Peak its
	// highest hour.
	Spark          template.HTML
	Finished, Peak int64
	OldestQueued   time.Time
	// QueuedHref lists the queued runs, whenever queued.
	QueuedHref string
}

// overviewRangeLink is a window the page links to.
type overviewRangeLink struct {
	Label, Href string
	Current     bool
}

// handleAdminOverview is the workspace overview: every scope the user may view.
func (s *Server) handleAdminOverview(c *fiber.Ctx) error {
	return s.renderOverview(c, nil)
}

// handleAdminTenantOverview is one tenant's overview (operations.view; an outsider 404).
func (s *Server) handleAdminTenantOverview(c *fiber.Ctx) error {
	return s.forViewedTenant(c, s.renderOverview)
}

// renderOverview parses the window, reads the counts of the visible scopes (or the
// tenant's) and renders the overview.
func (s *Server) renderOverview(c *fiber.Ctx, tenant *tenancy.Tenant) error {
	ctx := c.UserContext()
	rng := c.Query("range", "24h")
	back, ok := overviewRanges[rng]
	if !ok {
		return fiber.NewError(fiber.StatusUnprocessableEntity, msgOverviewRange)
	}
	now := time.Now().UTC()
	// The model keeps hours: the window starts at the hour it falls in, and the list
	// links carry that start, so a count and its list agree exactly.
	since := now.Add(-back).Truncate(time.Hour)
	var scopes, tenants []uuid.UUID
	listBase := "/admin/operations"
	if tenant != nil {
		scopes, listBase = []uuid.UUID{tenant.ID}, "/admin/t/"+tenant.ID.String()+"/operations"
	} else {
		var err error
		if tenants, err = s.visibleTenants(c); err != nil {
			return err
		}
		workspaces, err := s.deps.Tenancy.VisibleWorkspaces(ctx, currentUser(c).ID, tenancy.CapOperationsView)
		if err != nil {
			return err
		}
		scopes = append(append(scopes, tenants...), workspaces...)
	}
	windows, err := s.reads().Window(ctx, scopes, since)
	if err != nil {
		return err
	}
	spark, err := s.reads().Throughput(ctx, scopes, now.Add(-back), now)
	if err != nil {
		return err
	}
	oldest, err := s.reads().OldestQueued(ctx, scopes)
	if err != nil {
		return err
	}
	sinceParam := since.Format(datetimeLocal)
	listHref := func(base, bucket string) string {
		v := url.Values{"since": {sinceParam}}
		if bucket != "" {
			v.Set("bucket", bucket)
		}
		return base + "?" + v.Encode()
	}
	data := overviewPage{Tenant: tenant, Range: rng, Since: since, OldestQueued: oldest,
		QueuedHref: listBase + "?bucket=queued"}
	for _, r := range []string{"24h", "7d"} {
		label := map[string]string{"24h": "Last 24 hours", "7d": "Last 7 days"}[r]
		data.Ranges = append(data.Ranges, overviewRangeLink{Label: label, Href: "?range=" + r, Current: r == rng})
	}
	totals := map[string]int64{}
	isTenant := map[uuid.UUID]bool{}
	for _, id := range tenants {
		isTenant[id] = true
	}
	for _, w := range windows {
		var failed, total int64
		for col, n := range w.Columns {
			totals[col] += n
			total += n
			if col == string(operations.BucketFailed) || col == projections.ColumnBlocked {
				failed += n
			}
		}
		if tenant == nil && isTenant[w.ScopeID] && failed > 0 {
			data.Failing = append(data.Failing, failingTenant{ID: w.ScopeID, Failed: failed, Total: total,
				Href: listHref("/admin/t/"+w.ScopeID.String()+"/operations", string(operations.BucketFailed))})
		}
	}
	failed := totals[string(operations.BucketFailed)] + totals[projections.ColumnBlocked]
	for _, b := range operations.Buckets() {
		col := overviewColumn{Label: bucketLabel(b), Col: string(b), N: totals[string(b)], Href: listHref(listBase, string(b))}
		if b == operations.BucketFailed {
			col.N = failed
			col.Note = "blocked included"
		}
		data.Columns = append(data.Columns, col)
	}
	data.Columns = append(data.Columns, overviewColumn{Label: "Blocked", Col: projections.ColumnBlocked,
		N: totals[projections.ColumnBlocked], Href: listHref(listBase, string(operations.BucketFailed)),
		Note: "of the failed: refused before running"})
	if err := s.nameFailing(c, &data); err != nil {
		return err
	}
	for _, n := range spark {
		data.Finished += n
		data.Peak = max(data.Peak, n)
	}
	data.Spark = sparkline(spark, now.Add(-back).Truncate(time.Hour))
	title := "Overview"
	if tenant != nil {
		title = tenant.Name + " · Overview"
	}
	return s.render(c, fiber.StatusOK, "overview", page{Title: title, Nav: "overview", Tenant: tenant, Data: data})
}

// nameFailing orders the failing tenants (most failures first, then by name), keeps the
// first overviewFailingLimit and gives them their names.
func (s *Server) nameFailing(c *fiber.Ctx, data *overviewPage) error {
	if len(data.Failing) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(data.Failing))
	for i, f := range data.Failing {
		ids[i] = f.ID
	}
	tenants, err := s.deps.Tenancy.TenantsByID(c.UserContext(), ids)
	if err != nil {
		return err
	}
	names := map[uuid.UUID]string{}
	for _, t := range tenants {
		names[t.ID] = t.Name
	}
	for i := range data.Failing {
		data.Failing[i].Name = names[data.Failing[i].ID]
	}
	slices.SortFunc(data.Failing, func(a, b failingTenant) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), strings.Compare(a.Name, b.Name), strings.Compare(a.ID.String(), b.ID.String()))
	})
	if len(data.Failing) > overviewFailingLimit {
		data.Failing = data.Failing[:overviewFailingLimit]
	}
	return nil
}

// bucketLabel is a bucket as a column heading ("Partially succeeded").
func bucketLabel(b operations.Bucket) string {
	s := strings.ReplaceAll(string(b), "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// sparkline draws points (one per hour from start) as an inline SVG polyline with a
// title per hour for assistive technology and hover; no points draw an empty line.
func sparkline(points []int64, start time.Time) template.HTML {
	const w, h = 240.0, 40.0
	var peak int64 = 1
	for _, p := range points {
		peak = max(peak, p)
	}
	step := w
	if len(points) > 1 {
		step = w / float64(len(points)-1)
	}
	var coords, marks strings.Builder
	for i, p := range points {
		x, y := float64(i)*step, h-2-float64(p)/float64(peak)*(h-4)
		fmt.Fprintf(&coords, "%.1f,%.1f ", x, y)
		hour := start.Add(time.Duration(i) * time.Hour)
		fmt.Fprintf(&marks, `<rect x="%.1f" y="0" width="%.1f" height="%.0f" fill="transparent"><title>%s: %d finished</title></rect>`,
			x-step/2, step, h, template.HTMLEscapeString(hour.Format("2 Jan 15:00 UTC")), p)
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="Runs finished per hour">`+
		`<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="%s"/>%s</svg>`,
		w, h, w, h, strings.TrimSpace(coords.String()), marks.String())) // #nosec G203 -- numbers and escaped text only
}
