package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// runsSection returns the run ids the "Runs" section of a page lists, in order.
func runsSection(t *testing.T, body string) []uuid.UUID {
	t.Helper()
	start := regexp.MustCompile(`<section class="related-runs"`).FindStringIndex(body)
	require.NotNil(t, start, "the page has a Runs section")
	section := body[start[0]:]
	if end := regexp.MustCompile(`</section>`).FindStringIndex(section); end != nil {
		section = section[:end[1]]
	}
	ids := []uuid.UUID{}
	for _, m := range regexp.MustCompile(`<td data-label="Operation"><a href="/admin/operations/([0-9a-f-]{36})">`).FindAllStringSubmatch(section, -1) {
		ids = append(ids, uuid.MustParse(m[1]))
	}
	return ids
}

// TestRelatedRunsOfObjects: the snapshot, backup set, drift report and directory group
// pages list the runs that touched their object (RunLinked, the run_links read model),
// newest first. A group's runs are the complete group syncs since it last changed: a
// later sync that changed one group lists only that sync on its page, while an
// unchanged group lists every sync, newest first. Another tenant's URL is a 404.
func TestRelatedRunsOfObjects(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	e := d.env
	firstGroupSync := d.runs["directory.groups.sync"]

	// Two more group syncs; before the last, one group's name changes in Graph.
	second := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, second.Outcome, second.Message)
	// The renamed group is one other than the page's group (the simulator's order is
	// not fixed: taking the first one failed once in CI when it was the page's).
	groups := e.Sim.Objects(e.EntraTenant, "groups")
	changed := groups[0]
	if changed["id"].(string) == d.group.ObjectID {
		changed = groups[1]
	}
	changed["displayName"] = "Renamed group"
	e.Sim.SetObject(e.EntraTenant, "groups", changed)
	third := e.Run(t, "directory.groups.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, third.Outcome, third.Message)
	changedID := changed["id"].(string)
	require.NotEqual(t, changedID, d.group.ObjectID)

	reader := projections.NewRunReader(e.Pool)
	require.Eventually(t, func() bool {
		_, err := e.App.Store.Seal(e.Ctx)
		require.NoError(t, err)
		for _, p := range []projections.Projection{projections.HubRuns{}, projections.RunLinks{}} {
			_, err := e.App.Runner.CatchUp(e.Ctx, p)
			require.NoError(t, err)
		}
		runs, err := reader.LinkedRuns(e.Ctx, projections.LinkedFilter{TenantIDs: []uuid.UUID{d.tenant}, Tenant: d.tenant,
			Objects: []operations.RunLinked{{Kind: operations.LinkDirectoryGroups, ID: d.tenant}}})
		require.NoError(t, err)
		return len(runs) == 3
	}, 30*time.Second, 20*time.Millisecond, "the runs and their links never reached the read models")

	h := serveHub(t, e.App, e.Pool, d.seed)
	owner, _ := signedIn(t, h, "owner")
	base := "/admin/t/" + d.tenant.String()
	// The policy captured into the backup set: both inventory syncs held it (their
	// snapshots), and the backup run captured it.
	itemPath := base + "/inventory/items/deviceConfigurations/" + url.PathEscape(d.item.PolicyID)
	for path, want := range map[string][]uuid.UUID{
		itemPath: {d.runs["backup_set.add_policies"].ID, d.runs["inventory.sync"].ID, d.firstSync},
		base + "/inventory/snapshots/" + d.second.ID.String():          {d.runs["inventory.sync"].ID},
		base + "/backups/" + d.set.ID.String():                         {d.runs["backup_set.add_policies"].ID},
		base + "/drift/" + d.driftRun.String():                         {d.driftRun},
		base + "/directory/groups/" + url.PathEscape(d.group.ObjectID): {third.ID, second.ID, firstGroupSync.ID},
		base + "/directory/groups/" + url.PathEscape(changedID):        {third.ID},
	} {
		resp, body := owner.get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, want, runsSection(t, body), path)
	}
	// The snapshot page links its policies to their pages.
	// (on whichever page of the snapshot's items the policy falls: follow the pager)
	next := base + "/inventory/snapshots/" + d.second.ID.String() + "?type=deviceConfigurations"
	nextRe := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	found := false
	for range 20 {
		_, body := owner.get(next)
		if strings.Contains(body, `href="`+itemPath+`"`) {
			found = true
			break
		}
		m := nextRe.FindStringSubmatch(body)
		if m == nil {
			break
		}
		next = html.UnescapeString(m[1])
		if strings.HasPrefix(next, "?") {
			next = base + "/inventory/snapshots/" + d.second.ID.String() + next
		}
	}
	require.True(t, found, "the snapshot's pages link %s", itemPath)
	// A policy no snapshot holds, and an unknown type, are 404.
	for _, p := range []string{base + "/inventory/items/deviceConfigurations/no-such-policy", base + "/inventory/items/nonsense/" + url.PathEscape(d.item.PolicyID)} {
		resp, _ := owner.get(p)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
	}
	// The group list links each group to its page.
	_, body := owner.get(base + "/directory/groups?q=" + url.QueryEscape("Renamed group"))
	require.Contains(t, body, `href="`+base+`/directory/groups/`+url.PathEscape(changedID)+`"`)

	// The other tenant's URLs of these objects are 404 for the owner of both; an outsider
	// gets 404 on the tenant's own URLs.
	other := "/admin/t/" + d.other.String()
	outsider, _ := signedIn(t, h, "outsider")
	for _, p := range []string{
		other + "/directory/groups/" + url.PathEscape(d.group.ObjectID),
		other + "/inventory/snapshots/" + d.second.ID.String(),
		other + "/inventory/items/deviceConfigurations/" + url.PathEscape(d.item.PolicyID),
	} {
		resp, _ := owner.get(p)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
	}
	resp, _ := outsider.get(base + "/directory/groups/" + url.PathEscape(d.group.ObjectID))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
