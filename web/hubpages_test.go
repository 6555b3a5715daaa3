package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/directory"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// graphData is a tenant whose module tables hold what real runs wrote against the Graph
// simulator: two inventory snapshots (with a renamed, an added and a removed policy in
// between), a drift report, both directory caches and a backup set; a second tenant of
// the same workspace without data; and a user of every role plus an outsider.
type graphData struct {
	env      *monotest.Env
	seed     monolith.DemoSeed // Users: owner, operator, readonly, compliance, outsider
	tenant   uuid.UUID
	other    uuid.UUID
	runs     map[string]*operations.Run // by type; "inventory.sync" is the second sync
	first    inventory.Snapshot
	second   inventory.Snapshot
	set      backup.Set
	item     backup.Item // one captured policy, with its payload
	group    directory.Group
	role     directory.RoleDefinition
	oldName  string // the renamed device configuration's name before the rename
	newName  string
	driftRun uuid.UUID
	// firstSync is the first inventory.sync (runs["inventory.sync"] is the second).
	firstSync uuid.UUID
}

const policiesPerType = 60

// seedGraphData runs the real run types against the simulator on a database of its own.
func seedGraphData(t *testing.T) *graphData {
	t.Helper()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{Seed: 11, Groups: 60, RoleDefinitions: 12, Policies: policiesPerType}})
	ctx := e.Ctx
	d := &graphData{env: e, tenant: e.Tenant, runs: map[string]*operations.Run{}, newName: "Renamed by an admin"}

	first := e.Run(t, "inventory.sync", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, first.Outcome, first.Message)
	d.firstSync = first.ID
	dcs := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	changed := dcs[3]
	d.oldName = changed["displayName"].(string)
	changed["displayName"] = d.newName
	e.Sim.SetObject(e.EntraTenant, "deviceConfigurations", changed)
	e.Sim.SetObject(e.EntraTenant, "compliancePolicies", map[string]any{"id": "11111111-2222-3333-4444-555555555555",
		"displayName": "New compliance policy", "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "version": 1})
	removed := e.Sim.Objects(e.EntraTenant, "settingsCatalogPolicies")[5]
	require.True(t, e.Sim.DeleteObject(e.EntraTenant, "settingsCatalogPolicies", removed["id"].(string)))
	d.runs["inventory.sync"] = e.Run(t, "inventory.sync", `{}`)
	for _, typ := range []string{"drift.generate", "directory.groups.sync", "directory.role_definitions.sync"} {
		d.runs[typ] = e.Run(t, typ, `{}`)
		require.Equal(t, operations.OutcomeSucceeded, d.runs[typ].Outcome, "%s: %s", typ, d.runs[typ].Message)
	}
	d.driftRun = d.runs["drift.generate"].ID
	sc := e.Sim.Objects(e.EntraTenant, "settingsCatalogPolicies")
	d.runs["backup_set.add_policies"] = e.Run(t, "backup_set.add_policies", fmt.Sprintf(
		`{"name":"Before the change window","policies":[{"type":"deviceConfigurations","id":%q},{"type":"settingsCatalogPolicies","id":%q}]}`,
		dcs[0]["id"], sc[1]["id"]))
	require.Equal(t, operations.OutcomeSucceeded, d.runs["backup_set.add_policies"].Outcome)

	var err error
	d.first, err = e.App.Inventory.SnapshotOfRun(ctx, first.ID)
	require.NoError(t, err)
	d.second, err = e.App.Inventory.SnapshotOfRun(ctx, d.runs["inventory.sync"].ID)
	require.NoError(t, err)
	d.set, err = e.App.Backup.SetOfRun(ctx, d.runs["backup_set.add_policies"].ID)
	require.NoError(t, err)
	d.item, err = e.App.Backup.Item(ctx, d.set.ID, "deviceConfigurations", dcs[0]["id"].(string))
	require.NoError(t, err)
	groups, err := e.App.Directory.SearchGroups(ctx, e.Tenant, "", 200)
	require.NoError(t, err)
	require.Len(t, groups, 60)
	d.group = groups[17]
	roles, err := e.App.Directory.SearchRoleDefinitions(ctx, e.Tenant, "", 200)
	require.NoError(t, err)
	require.NotEmpty(t, roles)
	d.role = roles[len(roles)-1]

	ten := e.App.Tenancy
	other, err := ten.AddTenant(ctx, "system:test", e.Workspace, "Fabrikam Retail", uuid.NewString())
	require.NoError(t, err)
	d.other = other.ID
	d.seed = monolith.DemoSeed{Workspace: e.Workspace, Users: map[string]monolith.DemoLogin{},
		Tenants: []monolith.DemoTenant{{ID: e.Tenant, Name: "Contoso"}, {ID: other.ID, Name: other.Name}}}
	const password = "correct horse battery staple"
	d.seed.Users["operator"] = monolith.DemoLogin{ID: e.Operator.ID, Email: e.Operator.Email, Password: password}
	outsiderWS, err := ten.CreateWorkspace(ctx, "system:test", "outsiders-"+uuid.NewString()[:8])
	require.NoError(t, err)
	for _, u := range []struct {
		key  string
		role tenancy.Role
		ws   uuid.UUID
	}{{"owner", tenancy.RoleOwner, e.Workspace}, {"readonly", tenancy.RoleReadonly, e.Workspace},
		{"compliance", tenancy.RoleCompliance, e.Workspace}, {"outsider", tenancy.RoleOwner, outsiderWS.ID}} {
		user, err := ten.RegisterUser(ctx, "system:test", u.key+"-"+uuid.NewString()[:8]+"@example.test", u.key, password)
		require.NoError(t, err)
		require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: user.ID, WorkspaceID: u.ws, Role: u.role}))
		d.seed.Users[u.key] = monolith.DemoLogin{ID: user.ID, Email: user.Email, Password: password}
	}

	// The operations lists read the hub read model: project every run.
	require.Eventually(t, func() bool {
		_, err := e.App.Store.Seal(ctx)
		require.NoError(t, err)
		_, err = e.App.Runner.CatchUp(ctx, projections.HubRuns{})
		require.NoError(t, err)
		var n int
		require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM rm_runs WHERE tenant_id = $1 AND bucket = 'succeeded'`, e.Tenant).Scan(&n))
		return n == 6
	}, 30*time.Second, 20*time.Millisecond, "the runs never reached the hub read model")
	return d
}

// pages are the hub's tenant pages over d's data, as the owner may GET them.
func (d *graphData) pages() []string {
	t := "/admin/t/" + d.tenant.String()
	return []string{
		t + "/inventory",
		t + "/inventory/snapshots/" + d.first.ID.String(),
		t + "/inventory/snapshots/" + d.second.ID.String() + "?type=compliancePolicies",
		t + "/directory/groups",
		t + "/directory/groups?q=" + url.QueryEscape(d.group.DisplayName),
		t + "/directory/groups/" + url.PathEscape(d.group.ObjectID),
		t + "/directory/roles",
		t + "/directory/roles?q=" + url.QueryEscape(d.role.DisplayName),
		t + "/drift",
		t + "/drift/" + d.driftRun.String(),
		t + "/backups",
		t + "/backups/" + d.set.ID.String(),
		t + "/backups/" + d.set.ID.String() + "/items/deviceConfigurations/" + url.PathEscape(d.item.PolicyID),
		t + "/provider-connections",
		t + "/provider-connections/" + d.env.Conn.String(),
		t + "/inventory/items/deviceConfigurations/" + url.PathEscape(d.item.PolicyID),
	}
}

// signedIn signs in a fresh browser as who and returns it with its CSRF token.
func signedIn(t *testing.T, h *hub, who string) (*browser, string) {
	t.Helper()
	b := newBrowser(t, h)
	if who == "" {
		return b, "none"
	}
	b.login(who)
	_, body := b.get("/admin/operations")
	return b, csrf(t, body)
}

// TestHubPagesAuthorizationMatrix requests every tenant page and the Sync-now forms as
// every kind of user: members see the pages (every role has operations.view, so no GET
// is a 403), only roles with directory.sync may sync, an outsider gets 404 everywhere,
// and an anonymous visitor is sent to the login page.
func TestHubPagesAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	h := serveHub(t, d.env.App, d.env.Pool, d.seed)
	base := "/admin/t/" + d.tenant.String()

	principals := []string{"owner", "operator", "readonly", "compliance", "outsider", ""}
	view := map[string]int{"owner": 200, "operator": 200, "readonly": 200, "compliance": 200, "outsider": 404, "": 302}
	redirect := map[string]int{"owner": 302, "operator": 302, "readonly": 302, "compliance": 302, "outsider": 404, "": 302}
	sync := map[string]int{"owner": 303, "operator": 303, "readonly": 403, "compliance": 403, "outsider": 404, "": 303}
	type route struct {
		method, path string
		want         map[string]int
	}
	var routes []route
	for _, p := range d.pages() {
		routes = append(routes, route{"GET", p, view})
	}
	routes = append(routes,
		route{"GET", base + "/directory", redirect},
		route{"GET", base + "/inventory?run=" + d.runs["inventory.sync"].ID.String(), redirect},
		route{"GET", base + "/drift?run=" + d.driftRun.String(), redirect},
		route{"POST", base + "/directory/groups/sync", sync},
		route{"POST", base + "/directory/roles/sync", sync},
		route{"POST", "/admin/provider-connections/" + d.env.Conn.String() + "/actions/provider.verify/start", sync},
		route{"POST", "/admin/provider-connections/" + d.env.Conn.String() + "/actions/inventory.sync/start", sync},
	)
	browsers := map[string]*browser{}
	tokens := map[string]string{}
	for _, who := range principals {
		browsers[who], tokens[who] = signedIn(t, h, who)
	}
	for _, r := range routes {
		for _, who := range principals {
			var resp *http.Response
			var body string
			if r.method == "GET" {
				resp, body = browsers[who].get(r.path)
			} else {
				resp, body = browsers[who].post(r.path, url.Values{"_csrf": {tokens[who]}})
			}
			name := who
			if name == "" {
				name = "anonymous"
			}
			require.Equal(t, r.want[who], resp.StatusCode, "%s %s as %s", r.method, r.path, name)
			switch resp.StatusCode {
			case 404:
				require.Contains(t, body, "Not found")
			case 403:
				require.Contains(t, body, "Not allowed")
			case 302, 303:
				if who == "" {
					require.Equal(t, "/admin/login", resp.Header.Get("Location"))
				}
			}
		}
	}
	// A member with neither a CSRF token nor a valid one cannot sync.
	resp, _ := browsers["owner"].post(base+"/directory/groups/sync", url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// TestHubPagesShowData renders what the runs wrote: snapshots with a type filter and
// keyset pages, the directory pickers with search and Sync now, drift findings with
// field-level before/after, backup sets and items; a run's related links lead to these
// pages; ids of another tenant under this tenant's URL (and the reverse) are 404.
func TestHubPagesShowData(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	h := serveHub(t, d.env.App, d.env.Pool, d.seed)
	base := "/admin/t/" + d.tenant.String()
	owner, _ := signedIn(t, h, "owner")

	// Inventory: both snapshots, newest first, with counts and run links.
	resp, body := owner.get(base + "/inventory")
	require.Equal(t, 200, resp.StatusCode)
	second := strings.Index(body, "/inventory/snapshots/"+d.second.ID.String())
	first := strings.Index(body, "/inventory/snapshots/"+d.first.ID.String())
	require.True(t, second > 0 && first > second, "both snapshots, newest first")
	require.Contains(t, body, "/admin/operations/"+d.runs["inventory.sync"].ID.String())
	require.Contains(t, body, fmt.Sprintf(`<td data-label="Items" class="num">%d</td>`, 3*policiesPerType))
	require.Contains(t, body, `class="subnav"`)
	require.Contains(t, body, `href="`+base+`/inventory" aria-current="page"`)
	resp, _ = owner.get(base + "/inventory?run=" + d.runs["inventory.sync"].ID.String())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, base+"/inventory/snapshots/"+d.second.ID.String(), resp.Header.Get("Location"))

	// A snapshot filtered to one type, in keyset pages of 50.
	snap := base + "/inventory/snapshots/" + d.second.ID.String()
	resp, body = owner.get(snap + "?type=compliancePolicies")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 50, strings.Count(body, `<td data-label="Type" class="mono">compliancePolicies</td>`))
	require.NotContains(t, body, `<td data-label="Type" class="mono">deviceConfigurations</td>`)
	require.Contains(t, body, "New compliance policy", "the added policy's id sorts first")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	require.NotNil(t, next, "a next-page link")
	resp, body = owner.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, policiesPerType+1-50, strings.Count(body, `<td data-label="Type" class="mono">compliancePolicies</td>`), "the rest, the added policy included")
	require.NotContains(t, body, "New compliance policy", "keyset pages do not overlap")
	require.NotContains(t, body, `rel="next"`)
	resp, body = owner.get(snap)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 50, strings.Count(body, `<td data-label="Type" class="mono">`), "all types, one page of 50")
	require.Contains(t, body, `rel="next"`)
	resp, _ = owner.get(snap + "?type=groups")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _ = owner.get(snap + "?after_type=compliancePolicies")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// Directory pickers: cache size, last sync, search over the cache.
	resp, body = owner.get(base + "/directory/groups")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, "<strong>60</strong> cached · last synced")
	require.Contains(t, body, "/admin/operations/"+d.runs["directory.groups.sync"].ID.String())
	require.Contains(t, body, `action="`+base+`/directory/groups/sync"`)
	require.Contains(t, body, "Showing the first 50 matches")
	resp, body = owner.get(base + "/directory/groups?q=" + url.QueryEscape(d.group.DisplayName))
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, d.group.ObjectID)
	require.Contains(t, body, `value="`+d.group.DisplayName+`"`)
	resp, body = owner.get(base + "/directory/groups?q=zz-no-such-group-zz")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, "No cached Groups match")
	resp, body = owner.get(base + "/directory/roles?q=" + url.QueryEscape(d.role.DisplayName))
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, d.role.ObjectID)
	require.Contains(t, body, "/admin/operations/"+d.runs["directory.role_definitions.sync"].ID.String())
	resp, body = owner.get("/admin/t/" + d.other.String() + "/directory/groups")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, "never synced")
	require.Contains(t, body, "The Groups cache is empty.")
	resp, _ = owner.get(base + "/directory/groups?q=" + strings.Repeat("x", 201))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// Sync now: the operator starts the sync and gets the gate's answer with a View-run link.
	op, token := signedIn(t, h, "operator")
	resp, _ = op.post(base+"/directory/roles/sync", url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, base+"/directory/roles", resp.Header.Get("Location"))
	_, body = op.get(base + "/directory/roles")
	m := regexp.MustCompile(`class="flash flash-success"[\s\S]*?href="/admin/operations/([0-9a-f-]{36})">View run`).FindStringSubmatch(body)
	require.NotNil(t, m, "a success flash with a View-run link: %s", body)
	run, err := d.env.App.Operations.Load(t.Context(), uuid.MustParse(m[1]))
	require.NoError(t, err)
	require.Equal(t, "directory.role_definitions.sync", run.Type)
	require.Equal(t, "web", run.SourceSurface)
	reader, _ := signedIn(t, h, "readonly")
	_, body = reader.get(base + "/directory/groups")
	require.NotContains(t, body, "Sync now", "readonly may not start a sync")
	require.Contains(t, body, d.group.DisplayName)

	// Drift: the report, and its findings with kind badges and before/after.
	resp, body = owner.get(base + "/drift")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, base+"/drift/"+d.driftRun.String())
	resp, _ = owner.get(base + "/drift?run=" + d.driftRun.String())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, base+"/drift/"+d.driftRun.String(), resp.Header.Get("Location"))
	resp, body = owner.get(base + "/drift/" + d.driftRun.String())
	require.Equal(t, 200, resp.StatusCode)
	for _, kind := range []string{"added", "removed", "changed"} {
		require.Contains(t, body, `<td data-label="Kind"><span class="badge badge-`+kind+`">`+kind+`</span></td>`)
	}
	require.Contains(t, body, "New compliance policy")
	require.Regexp(t, `<td class="mono">displayName</td><td class="before">`+regexp.QuoteMeta(d.oldName)+`</td><td class="after">`+d.newName+`</td>`, body)
	require.Contains(t, body, base+"/inventory/snapshots/"+d.first.ID.String(), "links the baseline snapshot")

	// Backups: the set, its items (type, id, name, sha256), one item with its payload.
	resp, body = owner.get(base + "/backups")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, "Before the change window")
	resp, body = owner.get(base + "/backups/" + d.set.ID.String())
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, d.item.PolicyID)
	require.Contains(t, body, `title="`+d.item.SHA256+`"`)
	require.Contains(t, body, d.item.DisplayName)
	itemURL := base + "/backups/" + d.set.ID.String() + "/items/deviceConfigurations/" + url.PathEscape(d.item.PolicyID)
	require.Contains(t, body, `href="`+itemURL+`"`)
	resp, body = owner.get(itemURL)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, d.item.SHA256)
	require.Contains(t, body, "hash verified")
	require.Contains(t, body, "<details class=\"payload\">")
	resp, _ = owner.get(base + "/backups/" + d.set.ID.String() + "/items/deviceConfigurations/no-such-policy")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = owner.get(base + "/backups/" + d.set.ID.String() + "/items/groups/" + url.PathEscape(d.item.PolicyID))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Every run's related links (operations.RelatedLinks) lead to a live page.
	for typ, r := range d.runs {
		_, body := owner.get("/admin/operations/" + r.ID.String())
		links := 0
		for _, m := range regexp.MustCompile(`<li><a href="(/admin/t/[^"]+)">`).FindAllStringSubmatch(body, -1) {
			resp, _ := owner.get(strings.ReplaceAll(m[1], "&amp;", "&"))
			require.Contains(t, []int{200, 302}, resp.StatusCode, "%s links %s", typ, m[1])
			links++
		}
		require.GreaterOrEqual(t, links, 2, "%s: the tenant's operations and what the run wrote", typ)
	}

	// Ids of one tenant under the other tenant's URL, unknown ids and non-UUIDs are 404,
	// though the owner may view both tenants.
	other := "/admin/t/" + d.other.String()
	for _, p := range []string{
		other + "/inventory/snapshots/" + d.second.ID.String(),
		other + "/drift/" + d.driftRun.String(),
		other + "/backups/" + d.set.ID.String(),
		other + "/backups/" + d.set.ID.String() + "/items/deviceConfigurations/" + url.PathEscape(d.item.PolicyID),
		other + "/directory/groups/" + url.PathEscape(d.group.ObjectID),
		base + "/directory/groups/no-such-group",
		base + "/inventory/snapshots/" + uuid.NewString(),
		base + "/drift/" + uuid.NewString(),
		base + "/backups/" + uuid.NewString(),
		base + "/inventory/snapshots/42",
		base + "/drift/42",
		base + "/backups/42",
		base + "/drift/" + d.runs["inventory.sync"].ID.String(), // a run, but no drift report
		"/admin/t/42/inventory",
		"/admin/t/" + uuid.NewString() + "/backups",
	} {
		resp, body := owner.get(p)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		require.Contains(t, body, "Not found", p)
	}
	resp, _ = owner.get(other + "/inventory?run=" + d.runs["inventory.sync"].ID.String())
	require.Equal(t, http.StatusOK, resp.StatusCode, "another tenant's run: the list, no redirect")

	// Empty states on the tenant without data.
	for p, want := range map[string]string{
		other + "/inventory":       "No inventory snapshots yet.",
		other + "/drift":           "No drift reports yet.",
		other + "/backups":         "No backup sets yet.",
		other + "/directory/roles": "The Role definitions cache is empty.",
	} {
		resp, body := owner.get(p)
		require.Equal(t, 200, resp.StatusCode, p)
		require.Contains(t, body, want, p)
	}
}

// failingGraph is a Graph client that fails the test when anything calls it.
type failingGraph struct {
	t     *testing.T
	calls atomic.Int64
}

func (g *failingGraph) List(_ context.Context, _ graph.Connection, objectType string, _ func([]graph.Object) error) error {
	g.calls.Add(1)
	g.t.Errorf("Graph called during render: List %s", objectType)
	return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "no Graph in this test"}
}

func (g *failingGraph) Get(_ context.Context, _ graph.Connection, objectType, id string) (graph.Object, error) {
	g.calls.Add(1)
	g.t.Errorf("Graph called during render: Get %s %s", objectType, id)
	return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "no Graph in this test"}
}

func (g *failingGraph) Create(_ context.Context, _ graph.Connection, objectType string, _ graph.Object) (graph.Object, error) {
	g.calls.Add(1)
	g.t.Errorf("Graph called during render: Create %s", objectType)
	return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "no Graph in this test"}
}

func (g *failingGraph) Update(_ context.Context, _ graph.Connection, objectType, id string, _ graph.Object) error {
	g.calls.Add(1)
	g.t.Errorf("Graph called during render: Update %s %s", objectType, id)
	return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "no Graph in this test"}
}

// TestHubRenderIsDatabaseOnly serves data the simulator-backed runs wrote through an
// app whose Graph client fails the test when called, with no workers running, and
// renders every hub page as the owner: all answer 200 and Graph is never called.
func TestHubRenderIsDatabaseOnly(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	g := &failingGraph{t: t}
	a := monolith.New(d.env.Pool, monolith.Options{BcryptCost: bcrypt.MinCost, Graph: g})
	require.Same(t, g, a.Provider.Graph().(*failingGraph), "the run types of this app would call the failing client")
	h := serveHub(t, a, d.env.Pool, d.seed)
	owner, _ := signedIn(t, h, "owner")

	pages := []string{
		"/admin/operations",
		"/admin/operations?type=inventory.sync&bucket=succeeded",
		"/admin/t/" + d.tenant.String() + "/operations",
	}
	for _, r := range d.runs {
		pages = append(pages, "/admin/operations/"+r.ID.String())
	}
	pages = append(pages, d.pages()...)
	for _, p := range pages {
		resp, body := owner.get(p)
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
		require.Contains(t, body, "</html>", p)
	}
	_, body := owner.get("/admin/t/" + d.tenant.String() + "/directory/groups?q=" + url.QueryEscape(d.group.DisplayName))
	require.Contains(t, body, d.group.ObjectID, "the search answered from the cache")
	_, body = owner.get("/admin/t/" + d.tenant.String() + "/operations")
	require.Contains(t, body, "/admin/operations/"+d.driftRun.String(), "the tenant's runs listed from the read model")
	require.Zero(t, g.calls.Load(), "rendering the hub called Graph")
}
