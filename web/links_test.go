package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// noDispatch queues nothing: the test's runs stay queued for no worker to take.
type noDispatch struct{}

func (noDispatch) QueueDispatch(context.Context, *eventstore.Batch, operations.Job) error { return nil }

var (
	mainRe = regexp.MustCompile(`(?s)<main[^>]*>(.*)</main>`)
	hrefRe = regexp.MustCompile(`href="([^"]*)"`)
)

// followLink GETs path as b, following the app's redirects (each to a path of the app),
// and answers the final status.
func followLink(t *testing.T, b *browser, path string) int {
	t.Helper()
	for range 5 {
		resp, _ := b.get(path)
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
			path = resp.Header.Get("Location")
			require.True(t, strings.HasPrefix(path, "/"), "a redirect within the app: %s", path)
		default:
			return resp.StatusCode
		}
	}
	t.Fatalf("%s: too many redirects", path)
	return 0
}

// TestEveryRunLinkLeadsToAPage renders the run page and the API detail of a run of
// every type and walks every link they give (the page's related links, next steps and
// crumbs; the API's related and nextSteps hrefs) as the owner: each answers 200, after
// the app's own redirects. The runs: the real run types against the Graph simulator
// (provider.verify included), a blocked start, and a run of every catalog type linking
// an object of every link kind.
func TestEveryRunLinkLeadsToAPage(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	e := d.env
	ctx := e.Ctx
	owner := d.seed.Users["owner"]
	token, _, err := e.App.Tenancy.IssueToken(ctx, "system:test", owner.ID, "links")
	require.NoError(t, err)
	owner.Token = token
	d.seed.Users["owner"] = owner

	runs := map[string]uuid.UUID{}
	for typ, r := range d.runs {
		runs[typ] = r.ID
	}
	verify := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, verify.Outcome, verify.Message)
	require.NotEmpty(t, verify.Links, "a verification links its connection")
	runs["provider.verify"] = verify.ID
	blocked, err := e.App.Operations.Start(ctx, operations.StartRequest{Type: "drift.generate", TenantID: d.other,
		Initiator: operations.Initiator{Kind: "user", UserID: e.Operator.ID, Name: e.Operator.Email}})
	require.NoError(t, err)
	require.Equal(t, operations.StartBlocked, blocked.Status, "no snapshots on the other tenant")
	runs["blocked drift.generate"] = blocked.Run.ID

	// Every catalog type, each run linking an object of every kind (the real objects).
	// A gate of the test's own admits every type and dispatches nothing; each run gets a
	// connection of its own, so no scope is busy.
	ops := operations.New(e.Pool, e.App.Store, e.App.Tenancy, e.App.Audit, operations.Options{Dispatcher: noDispatch{}})
	for _, ti := range operations.Types() {
		ops.DeclareRunnable(ti.Type)
	}
	kinds := map[operations.LinkKind]uuid.UUID{
		operations.LinkInventorySnapshot: d.second.ID, operations.LinkDriftFindings: d.driftRun, operations.LinkBackupSet: d.set.ID,
		operations.LinkProviderConnection: e.Conn, operations.LinkDirectoryGroups: e.Tenant, operations.LinkDirectoryRoles: e.Tenant,
	}
	rs, _, err := e.App.Restore.Create(ctx, operations.Initiator{Kind: "user", UserID: owner.ID, Name: owner.Email}, e.Tenant, d.set.ID, "test")
	require.NoError(t, err)
	kinds[operations.LinkRestore] = rs.ID
	tn, err := e.App.Tenancy.Tenant(ctx, e.Tenant)
	require.NoError(t, err)
	cron, zone := "0 3 * * *", "UTC"
	sched, err := e.App.Backup.CreateSchedule(ctx, backup.Actor{ID: "system:test"}, tn,
		backup.ScheduleInput{Cron: &cron, Timezone: &zone, PolicyTypes: &[]string{"deviceConfigurations"}})
	require.NoError(t, err)
	for _, ti := range operations.Types() {
		req := operations.StartRequest{Type: ti.Type, TenantID: e.Tenant, Initiator: operations.Initiator{Kind: "user", UserID: owner.ID, Name: owner.Email}}
		if ti.WorkspaceScoped {
			req.TenantID, req.WorkspaceID = uuid.Nil, e.Workspace
		}
		if ti.Identity == operations.IdentityScheduled {
			req.ScheduleID, req.ScheduledFor = uuid.New(), time.Now()
		}
		if ti.ProviderBacked {
			pc, err := e.App.Tenancy.AddProviderConnection(ctx, "system:test", tenancy.ProviderConnection{TenantID: e.Tenant,
				DisplayName: "links " + ti.Type, EntraTenantID: e.EntraTenant, ClientID: "links", SecretRef: "env:ATLAS_GRAPH_SECRET_LINKS"})
			require.NoError(t, err)
			req.ProviderConnectionID = pc.ID
		}
		switch ti.Type {
		case "backup_set.add_policies":
			req.Context = []byte(`{"policies":[{"type":"deviceConfigurations","id":"p1"}]}`)
		case "restore.preview", "restore.execute":
			req.Context = []byte(`{"restoreId":"` + uuid.NewString() + `"}`)
		case "backup_schedule.run_now", "backup_schedule.retry", "backup_schedule.scheduled":
			req.Context = []byte(`{"scheduleId":"` + sched.ID.String() + `"}`)
		}
		out, err := ops.Start(ctx, req)
		require.NoError(t, err, ti.Type)
		require.Equal(t, operations.StartAccepted, out.Status, "%s: %s", ti.Type, out.OperatorMessage)
		run, err := ops.Load(ctx, out.Run.ID)
		require.NoError(t, err)
		var evs []eventstore.NewEvent
		for kind, id := range kinds {
			require.True(t, kind.Valid())
			evs = append(evs, eventstore.NewEvent{Data: operations.RunLinked{Kind: kind, ID: id},
				Metadata: eventstore.Metadata{Actor: "system:worker", WorkspaceID: run.WorkspaceID, TenantID: run.TenantID, CorrelationID: run.ID}})
		}
		_, err = e.App.Store.Append(ctx, operations.RunStream(run.ID), eventstore.AnyVersion, evs...)
		require.NoError(t, err)
		runs["linked "+ti.Type] = run.ID
	}

	h := serveHub(t, e.App, e.Pool, d.seed)
	b, _ := signedIn(t, h, "owner")
	for name, id := range runs {
		resp, body := b.get(operations.RunURL(id))
		require.Equal(t, 200, resp.StatusCode, name)
		m := mainRe.FindStringSubmatch(body)
		require.NotNil(t, m, "%s: the page has a main", name)
		hrefs := map[string]bool{}
		for _, hm := range hrefRe.FindAllStringSubmatch(m[1], -1) {
			hrefs[html.UnescapeString(hm[1])] = true
		}
		code, detail := h.call(t, "owner", "GET", "/api/v1/operations/"+id.String(), "")
		require.Equal(t, 200, code, name)
		var apiLinks int
		for _, key := range []string{"related", "nextSteps"} {
			for _, l := range detail[key].([]any) {
				if href, _ := l.(map[string]any)["href"].(string); href != "" {
					require.True(t, hrefs[href], "%s: the page shows the API's %s link %s", name, key, href)
					apiLinks++
				}
			}
		}
		if strings.HasPrefix(name, "linked ") && detail["tenantId"] != nil && detail["tenantId"] != "" {
			require.GreaterOrEqual(t, apiLinks, 2, "%s: the tenant's operations and what the run linked", name)
		}
		for href := range hrefs {
			require.True(t, strings.HasPrefix(href, "/"), "%s: %s is a page of the app", name, href)
			require.Equal(t, 200, followLink(t, b, href), fmt.Sprintf("%s links %s", name, href))
		}
	}
}
