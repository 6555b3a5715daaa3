package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// The principals of the authorization matrix: a user of every workspace role (keyed by
// the role's name), a workspace owner of another workspace, nobody, and the two platform
// users of /system (every capability; platform.ops.view only).
const (
	anonymous      = "anonymous"
	outsider       = "outsider"
	platformAll    = "platform"
	platformViewer = "platform_viewer"
)

// matrixHub is seedGraphData's tenant (real inventory, drift, directory and backup data)
// served with a user of every role, each with a session and an API token, the two
// platform users, and an object behind every route parameter: a schedule, a restore, an
// onboarding session, a legacy run.
type matrixHub struct {
	*hub
	d        *graphData
	browsers map[string]*browser
	csrf     map[string]string
	// values fill a route's path parameters.
	values map[string]string
	// systemRun is a runbook run (the run /system shows).
	systemRun string
}

func newMatrixHub(t *testing.T) *matrixHub {
	t.Helper()
	d := seedGraphData(t)
	e := d.env
	ctx := e.Ctx
	ten := e.App.Tenancy
	const password = "correct horse battery staple"
	manager, err := ten.RegisterUser(ctx, "system:test", "manager-"+uuid.NewString()[:8]+"@example.test", "manager", password)
	require.NoError(t, err)
	require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: manager.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleManager}))
	d.seed.Users["manager"] = monolith.DemoLogin{ID: manager.ID, Email: manager.Email, Password: password}
	for key, u := range d.seed.Users {
		token, _, err := ten.IssueToken(ctx, "system:test", u.ID, "matrix")
		require.NoError(t, err)
		u.Token = token
		d.seed.Users[key] = u
	}
	for _, p := range []struct {
		login *monolith.DemoPlatformLogin
		caps  []tenancy.PlatformCapability
	}{{&d.seed.Platform, tenancy.PlatformCapabilities()}, {&d.seed.PlatformViewer, []tenancy.PlatformCapability{tenancy.PlatformOpsView}}} {
		email := "platform-" + uuid.NewString()[:8] + "@example.test"
		u, err := ten.CreatePlatformUser(ctx, "system:test", tenancy.NewPlatformUser{Email: email, Password: password, Capabilities: p.caps})
		require.NoError(t, err)
		*p.login = monolith.DemoPlatformLogin{ID: u.ID, Email: email, Password: password}
	}
	h := serveHub(t, e.App, e.Pool, d.seed)
	m := &matrixHub{hub: h, d: d, browsers: map[string]*browser{}, csrf: map[string]string{}}
	for _, who := range matrixPrincipals() {
		b := newBrowser(t, h)
		switch who {
		case anonymous:
			m.csrf[who] = "none"
		case platformAll, platformViewer:
			b.platformLogin(who)
			_, body := b.get("/system/ops/runs")
			m.csrf[who] = systemCSRF(t, body)
		default:
			b.login(who)
			_, body := b.get("/admin/operations")
			m.csrf[who] = csrf(t, body)
		}
		m.browsers[who] = b
	}

	tenant := e.Tenant.String()
	code, out := h.call(t, "owner", "POST", "/api/v1/tenants/"+tenant+"/backup-schedules", `{"cron":"30 2 * * *","timezone":"UTC","policyTypes":["deviceConfigurations"]}`)
	require.Equal(t, http.StatusCreated, code, out)
	schedule := out["id"].(string)
	code, out = h.call(t, "owner", "POST", "/api/v1/tenants/"+tenant+"/restores", `{"backupSetId":"`+d.set.ID.String()+`"}`)
	require.Contains(t, []int{200, 201}, code, out)
	restore := out["id"].(string)
	resp, body := m.browsers["owner"].post("/admin/onboarding", url.Values{"_csrf": {m.csrf["owner"]}, "workspace": {e.Workspace.String()},
		"tenant_name": {"Northwind"}, "entra_tenant_id": {e.EntraTenant}, "client_id": {"northwind-app"},
		"secret_ref": {monotest.SecretRef}, "graph_base_url": {e.Sim.URL}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	session := strings.TrimPrefix(resp.Header.Get("Location"), "/admin/onboarding/")
	_, err = e.App.Legacy.Import(ctx, legacy.Row{Table: "entra_group_sync_runs", ID: 7, TenantID: e.Tenant, Status: "completed",
		StartedAt: time.Now().Add(-time.Hour), FinishedAt: time.Now()})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := e.App.Runner.CatchUp(ctx, projections.LegacyRuns{})
		require.NoError(t, err)
		_, err = e.App.Runs.LegacyRun(ctx, "entra_group_sync_runs", 7)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)

	m.values = map[string]string{"tenant": tenant, "run": d.runs["inventory.sync"].ID.String(), "snapshot": d.first.ID.String(),
		"set": d.set.ID.String(), "group": url.PathEscape(d.group.ObjectID), "schedule": schedule, "restore": restore,
		"connection": e.Conn.String(), "session": session, "table": "entra_group_sync_runs", "id": "7",
		"notification": uuid.NewString(), "runbook": runbooks.BackfillKey, "workspace": e.Workspace.String()}
	resp, body = m.browsers[platformAll].post("/system/ops/runbooks/"+runbooks.BackfillKey+"/run", url.Values{"_csrf": {m.csrf[platformAll]},
		"scope": {"tenant:" + tenant}, "confirm": {runbooks.BackfillKey}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	m.systemRun = strings.TrimPrefix(resp.Header.Get("Location"), "/system/ops/runs/")
	return m
}

// matrixPrincipals: every workspace role, the outsider and nobody; then the platform users.
func matrixPrincipals() []string {
	var out []string
	for _, r := range tenancy.Roles() {
		out = append(out, string(r))
	}
	return append(out, outsider, anonymous, platformAll, platformViewer)
}

// fill puts m's values (or, for the two "type" and "operation" parameters, what the
// route means) into a route's path pattern.
func (m *matrixHub) fill(t *testing.T, pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		name, ok := strings.CutPrefix(p, ":")
		if !ok {
			continue
		}
		switch {
		case name == "type" && strings.Contains(pattern, "/items/"):
			parts[i] = "deviceConfigurations"
		case name == "id" && strings.Contains(pattern, "/items/"):
			parts[i] = url.PathEscape(m.d.item.PolicyID)
		case name == "type":
			parts[i] = "drift.generate"
		case name == "run" && strings.HasPrefix(pattern, "/system/"):
			parts[i] = m.systemRun
		case name == "run" && strings.Contains(pattern, "/drift/"):
			parts[i] = m.d.driftRun.String()
		case name == "operation":
			parts[i] = "provider.verify"
		default:
			v, ok := m.values[name]
			require.True(t, ok, "route %s has a parameter %q the matrix has no value for: add one", pattern, name)
			parts[i] = v
		}
	}
	return strings.Join(parts, "/")
}

// access is what each principal gets from a route.
type access map[string]int

// byCapability: a role with c gets ok, a role without it 403, the outsider (another
// workspace's owner) outsiderGets (404 where the route names this workspace's object),
// nobody the panel's refusal; platform users, who have no hub session or token, are
// nobody too.
func byCapability(c tenancy.Capability, ok, outsiderGets int) access {
	a := access{outsider: outsiderGets}
	for _, r := range tenancy.Roles() {
		a[string(r)] = http.StatusForbidden
		if r.Can(c) {
			a[string(r)] = ok
		}
	}
	return a
}

// members: every member may (every role has operations.view); the outsider gets outsiderGets.
func members(ok, outsiderGets int) access {
	return byCapability(tenancy.CapOperationsView, ok, outsiderGets)
}

// platform: a platform user with c gets ok, without it 403; workspace users and nobody
// have no platform session (the /system login); set by the test.
func platform(c tenancy.PlatformCapability, ok int) access {
	a := access{platformAll: ok, platformViewer: http.StatusForbidden}
	if c == tenancy.PlatformOpsView {
		a[platformViewer] = ok
	}
	return a
}

// same: everyone signed in to the panel gets code (a user's own resource, a public page).
func same(code int) access {
	a := access{outsider: code}
	for _, r := range tenancy.Roles() {
		a[string(r)] = code
	}
	return a
}

// public: everyone, signed in or not, gets code.
func public(code int) access {
	a := same(code)
	a[anonymous], a[platformAll], a[platformViewer] = code, code, code
	return a
}

// signIn: a panel's sign-in form, which sends who is signed in to it home (302).
func signIn(system bool) access {
	a := public(http.StatusOK)
	for who := range a {
		if platformUser := who == platformAll || who == platformViewer; who != anonymous && platformUser == system {
			a[who] = http.StatusFound
		}
	}
	return a
}

// matrixEntry is the expectation of one route: who gets what, and the form or JSON
// body its POSTs send (beside the CSRF token).
type matrixEntry struct {
	want  access
	form  url.Values
	json  string
	query string // the query string the route is requested with
}

// matrix is the expectation table: every route the app registers has an entry (a new
// route without one fails TestAuthorizationMatrixCoversEveryRoute).
func (m *matrixHub) matrix() map[string]matrixEntry {
	const ok, see, found, created = http.StatusOK, http.StatusSeeOther, http.StatusFound, http.StatusCreated
	const nf, unproc = http.StatusNotFound, http.StatusUnprocessableEntity
	start := `{"context":{}}`
	schedule := `{"cron":"15 3 * * *","timezone":"UTC","policyTypes":["deviceConfigurations"]}`
	return map[string]matrixEntry{
		// Public: health, metrics, the sign-in pages.
		"GET /healthz":       {want: public(ok)},
		"GET /readyz":        {want: public(ok)},
		"GET /metrics":       {want: public(ok)},
		"GET /admin/login":   {want: signIn(false)},
		"POST /admin/login":  {want: public(http.StatusForbidden)}, // a wrong CSRF nonce: nobody signs in here
		"GET /system/login":  {want: signIn(true)},
		"POST /system/login": {want: public(http.StatusForbidden)},

		// The API: members by capability; lists are filtered to what the caller may view.
		"POST /api/v1/tenants/:tenant/operations/:type/start":      {want: byCapability(tenancy.CapDriftGenerate, ok, nf), json: start},
		"GET /api/v1/operations":                                   {want: members(ok, ok)},
		"GET /api/v1/operations.csv":                               {want: members(ok, ok)},
		"GET /api/v1/operations/:run":                              {want: members(ok, nf)},
		"GET /api/v1/operations/:run/events":                       {want: members(ok, nf)},
		"GET /api/v1/notifications":                                {want: members(ok, ok)},
		"POST /api/v1/alert-rules":                                 {want: byCapability(tenancy.CapWorkspaceManage, ok, ok), json: alertBody("")},
		"GET /api/v1/alert-rules":                                  {want: byCapability(tenancy.CapWorkspaceManage, ok, ok)},
		"GET /api/v1/alert-deliveries":                             {want: byCapability(tenancy.CapWorkspaceManage, ok, ok)},
		"GET /api/v1/tenants/:tenant/backup-schedules":             {want: members(ok, nf)},
		"POST /api/v1/tenants/:tenant/backup-schedules":            {want: byCapability(tenancy.CapBackupManage, created, nf), json: schedule},
		"GET /api/v1/tenants/:tenant/backup-schedules/:schedule":   {want: members(ok, nf)},
		"PATCH /api/v1/tenants/:tenant/backup-schedules/:schedule": {want: byCapability(tenancy.CapBackupManage, ok, nf), json: `{"enabled":true}`},
		"GET /api/v1/audit":                                        {want: byCapability(tenancy.CapAuditView, ok, ok)},
		"GET /api/v1/audit/export":                                 {want: byCapability(tenancy.CapAuditExport, ok, ok)},
		"GET /api/v1/tenants/:tenant/replay":                       {want: byCapability(tenancy.CapAuditView, ok, nf)},
		"POST /api/v1/tenants/:tenant/restores":                    {want: byCapability(tenancy.CapRestoreExecute, created, nf), json: `{"backupSetId":"` + m.d.set.ID.String() + `"}`},
		"GET /api/v1/tenants/:tenant/restores/:restore":            {want: byCapability(tenancy.CapOperationsView, ok, nf)},
		"POST /api/v1/tenants/:tenant/restores/:restore/execute":   {want: byCapability(tenancy.CapRestoreExecute, unproc, nf), json: `{}`},
		"GET /api/v1/workspaces/:workspace/restore-settings":       {want: members(ok, nf)},
		"PUT /api/v1/workspaces/:workspace/restore-settings":       {want: byCapability(tenancy.CapWorkspaceManage, unproc, nf), json: `{}`},

		// The hub.
		"GET /admin/":                                                           {want: members(ok, ok)},
		"GET /admin/t/:tenant":                                                  {want: members(ok, nf)},
		"POST /admin/logout":                                                    {want: same(see)},
		"GET /admin/operations":                                                 {want: members(ok, ok)},
		"GET /admin/operations.csv":                                             {want: members(ok, ok)},
		"POST /admin/views":                                                     {want: same(see), form: url.Values{"name": {"matrix"}, "url": {"/admin/operations?bucket=failed"}}},
		"POST /admin/views/delete":                                              {want: same(see), form: url.Values{"name": {"matrix"}}},
		"GET /admin/tenants":                                                    {want: members(ok, ok)},
		"GET /admin/legacy/:table/:id":                                          {want: members(found, nf)},
		"GET /admin/operations/:run":                                            {want: members(ok, nf)},
		"GET /admin/operations/:run/stream":                                     {want: members(ok, nf)},
		"GET /admin/t/:tenant/operations":                                       {want: members(ok, nf)},
		"GET /admin/t/:tenant/operations.csv":                                   {want: members(ok, nf)},
		"POST /admin/t/:tenant/operations/start":                                {want: byCapability(tenancy.CapDriftGenerate, see, nf), form: url.Values{"type": {"drift.generate"}}},
		"GET /admin/t/:tenant/inventory":                                        {want: members(ok, nf)},
		"GET /admin/t/:tenant/inventory/snapshots/:snapshot":                    {want: members(ok, nf)},
		"GET /admin/t/:tenant/inventory/items/:type/:id":                        {want: members(ok, nf)},
		"GET /admin/t/:tenant/directory":                                        {want: members(found, nf)},
		"GET /admin/t/:tenant/directory/groups":                                 {want: members(ok, nf)},
		"GET /admin/t/:tenant/directory/groups/:group":                          {want: members(ok, nf)},
		"POST /admin/t/:tenant/directory/groups/sync":                           {want: byCapability(tenancy.CapDirectorySync, see, nf)},
		"GET /admin/t/:tenant/directory/roles":                                  {want: members(ok, nf)},
		"POST /admin/t/:tenant/directory/roles/sync":                            {want: byCapability(tenancy.CapDirectorySync, see, nf)},
		"GET /admin/t/:tenant/drift":                                            {want: members(ok, nf)},
		"GET /admin/t/:tenant/drift/:run":                                       {want: members(ok, nf)},
		"GET /admin/t/:tenant/backups/schedules":                                {want: members(ok, nf)},
		"POST /admin/t/:tenant/backups/schedules":                               {want: byCapability(tenancy.CapBackupManage, unproc, nf), form: url.Values{"cron": {"45 4 * * *"}, "timezone": {"UTC"}, "policy_types": {"deviceConfigurations"}}},
		"GET /admin/t/:tenant/backups/schedules/:schedule":                      {want: members(ok, nf)},
		"POST /admin/t/:tenant/backups/schedules/:schedule":                     {want: byCapability(tenancy.CapBackupManage, unproc, nf), form: url.Values{"cron": {"30 2 * * *"}, "timezone": {"UTC"}, "policy_types": {"deviceConfigurations"}}},
		"POST /admin/t/:tenant/backups/schedules/:schedule/enabled":             {want: byCapability(tenancy.CapBackupManage, see, nf), form: url.Values{"enabled": {"true"}}},
		"POST /admin/t/:tenant/backups/schedules/:schedule/run":                 {want: byCapability(tenancy.CapBackupManage, unproc, nf)},
		"POST /admin/t/:tenant/backups/schedules/:schedule/retry":               {want: byCapability(tenancy.CapBackupManage, unproc, nf)},
		"GET /admin/t/:tenant/backups":                                          {want: members(ok, nf)},
		"POST /admin/t/:tenant/backups":                                         {want: byCapability(tenancy.CapBackupManage, unproc, nf), form: url.Values{"name": {"matrix"}}},
		"GET /admin/t/:tenant/backups/:set":                                     {want: members(ok, nf)},
		"GET /admin/t/:tenant/backups/:set/items/:type/:id":                     {want: members(ok, nf)},
		"GET /admin/t/:tenant/provider-connections":                             {want: members(ok, nf)},
		"GET /admin/t/:tenant/provider-connections/:connection":                 {want: members(ok, nf)},
		"POST /admin/provider-connections/:connection/actions/:operation/start": {want: byCapability(tenancy.CapProviderVerify, see, nf)},
		"GET /admin/onboarding":                                                 {want: byCapability(tenancy.CapProviderManage, ok, ok)},
		"POST /admin/onboarding":                                                {want: byCapability(tenancy.CapProviderManage, unproc, unproc)},
		"GET /admin/onboarding/:session":                                        {want: members(ok, nf)},
		"POST /admin/onboarding/:session/provider-actions/:operation/start":     {want: byCapability(tenancy.CapProviderVerify, see, nf)},
		"POST /admin/onboarding/:session/provider-bootstrap/start":              {want: byCapability(tenancy.CapProviderManage, unproc, nf)},
		"POST /admin/t/:tenant/backups/:set/restore":                            {want: byCapability(tenancy.CapRestoreExecute, see, nf)},
		"GET /admin/t/:tenant/restores/:restore":                                {want: members(ok, nf)},
		"POST /admin/t/:tenant/restores/:restore/execute":                       {want: byCapability(tenancy.CapRestoreExecute, unproc, nf)},
		"GET /admin/alerts":                                                     {want: byCapability(tenancy.CapWorkspaceManage, ok, ok)},
		"POST /admin/alerts":                                                    {want: byCapability(tenancy.CapWorkspaceManage, see, see), form: url.Values{"events": {"operations.run.failed"}, "url": {"https://hooks.example.test/atlas"}, "secret": {alertSecret}}},
		"GET /admin/notifications":                                              {want: same(ok)},
		"POST /admin/notifications/read-all":                                    {want: same(see)},
		"POST /admin/notifications/:notification/read":                          {want: same(nf)}, // a user's own: nobody's here
		"GET /admin/audit":                                                      {want: byCapability(tenancy.CapAuditView, ok, ok)},
		"GET /admin/audit/export":                                               {want: byCapability(tenancy.CapAuditExport, ok, ok)},
		"GET /admin/audit/replay":                                               {want: byCapability(tenancy.CapAuditView, ok, nf), query: "tenant=" + m.values["tenant"]},

		// /system: platform sessions only, each page its capability.
		"GET /system/":                                 {want: platform(tenancy.PlatformOpsView, found)},
		"POST /system/logout":                          {want: platform(tenancy.PlatformOpsView, see)},
		"GET /system/ops":                              {want: platform(tenancy.PlatformOpsView, ok)},
		"GET /system/ops/runbooks":                     {want: platform(tenancy.PlatformRunbooksView, ok)},
		"POST /system/ops/runbooks/:runbook/preflight": {want: platform(tenancy.PlatformRunbooksView, ok), form: url.Values{"scope": {"all:" + m.values["workspace"]}}},
		"POST /system/ops/runbooks/:runbook/run":       {want: platform(tenancy.PlatformRunbooksRun, unproc), form: url.Values{"scope": {"all:" + m.values["workspace"]}}},
		"GET /system/ops/runs":                         {want: platform(tenancy.PlatformOpsView, ok)},
		"GET /system/ops/runs/:run":                    {want: platform(tenancy.PlatformOpsView, ok)},
		"GET /system/ops/runs/:run/stream":             {want: platform(tenancy.PlatformOpsView, ok)},
	}
}

// TestAuthorizationMatrixCoversEveryRoute requests every route the app registers as
// every principal and compares the status with the route's entry in the expectation
// table; a route without an entry fails, so a new route must say who may use it. In
// the hub, a member lacking the route's capability gets 403, a user of another
// workspace 404 for this workspace's objects, nobody the sign-in page (302/303, 401 on
// /api); in /system a platform user lacking the capability 403, and workspace users
// (who have no platform session) the /system sign-in page.
func TestAuthorizationMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	m := newMatrixHub(t)
	table := m.matrix()
	routes := appRoutes(t, m.srv)
	covered := map[string]bool{}
	var logouts []route
	for _, r := range routes {
		key := r.method + " " + r.path
		entry, ok := table[key]
		require.True(t, ok, "route %s has no entry in the authorization matrix: add one saying who may use it", key)
		covered[key] = true
		if strings.HasSuffix(r.path, "/logout") {
			logouts = append(logouts, r) // they end the sessions the other routes use: last
			continue
		}
		m.check(t, r, entry)
	}
	for key := range table {
		require.True(t, covered[key], "the matrix names %s, which the app does not register", key)
	}
	for _, r := range logouts {
		m.check(t, r, table[r.method+" "+r.path])
	}
}

// check requests r as every principal and compares with entry.
func (m *matrixHub) check(t *testing.T, r route, entry matrixEntry) {
	t.Helper()
	path := m.fill(t, r.path)
	if entry.query != "" {
		path += "?" + entry.query
	}
	api := strings.HasPrefix(path, "/api/")
	system := strings.HasPrefix(path, "/system/") && path != "/system/login"
	admin := strings.HasPrefix(path, "/admin/") && path != "/admin/login"
	for _, who := range matrixPrincipals() {
		want, ok := entry.want[who]
		platformUser := who == platformAll || who == platformViewer
		switch {
		case ok:
		case api && (who == anonymous || platformUser):
			want = http.StatusUnauthorized
		case (admin && (who == anonymous || platformUser)) || (system && !platformUser):
			want = http.StatusFound
			if r.method != http.MethodGet {
				want = http.StatusSeeOther
			}
		default:
			require.FailNow(t, "no expectation", "%s %s as %s", r.method, r.path, who)
		}
		got, body, loc := m.request(t, who, r.method, path, entry)
		if path == "/readyz" && got == http.StatusServiceUnavailable {
			got = http.StatusOK // readiness may honestly be red on a loaded machine (no sealer runs here); it is public either way
		}
		if !assert.Equal(t, want, got, "%s %s as %s: %.300s", r.method, path, who, msgOf(body)) {
			continue
		}
		switch {
		case (got == http.StatusFound || got == http.StatusSeeOther) && (system && !platformUser):
			require.Equal(t, "/system/login", loc, "%s %s as %s", r.method, path, who)
		case (got == http.StatusFound || got == http.StatusSeeOther) && admin && (who == anonymous || platformUser):
			require.Equal(t, "/admin/login", loc, "%s %s as %s", r.method, path, who)
		case got == http.StatusForbidden && !api && who != anonymous:
			require.Contains(t, body, "Not allowed", "%s %s as %s", r.method, path, who)
		case got == http.StatusNotFound && !api:
			require.Contains(t, body, "Not found", "%s %s as %s", r.method, path, who)
		}
	}
}

// request sends one request as who: the browser's session (and CSRF token) on the
// panels, the user's bearer token on /api.
func (m *matrixHub) request(t *testing.T, who, method, path string, entry matrixEntry) (int, string, string) {
	t.Helper()
	var body io.Reader
	contentType := ""
	switch {
	case method == http.MethodGet:
	case strings.HasPrefix(path, "/api/"):
		body, contentType = strings.NewReader(entry.json), "application/json"
	default:
		form := url.Values{}
		for k, v := range entry.form {
			form[k] = v
		}
		form.Set("_csrf", m.csrf[who])
		body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, body)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if u, ok := m.seed.Users[who]; ok && strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+u.Token)
	}
	resp, err := m.browsers[who].client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if strings.HasSuffix(path, "/stream") && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "", "" // a live stream: its status is the answer
	}
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw), resp.Header.Get("Location")
}

// msgOf is the message of an error page or JSON error, for a failure's text.
func msgOf(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	return body
}
