package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/operations"
)

var flashRunRe = regexp.MustCompile(`<div class="flash flash-success" role="status">\s*<span>[^<]*</span> <a href="/admin/operations/([0-9a-f-]{36})">View run</a>`)

// TestHubBackupSetForm: the tenant's Backups page offers the latest inventory's
// policies to members who manage backups; the owner's checked policies and name start
// backup_set.add_policies through the gate (from the hub's backups page), the page
// flashes the accepted outcome with a View-run link, and the run's set appears with
// exactly those policies. No policy, a policy of an older snapshot, a forged value or
// a long name are 422; readonly and compliance get no form and 403 on the post, an
// outsider 404, a post without the CSRF token 403, an anonymous one the login page.
func TestHubBackupSetForm(t *testing.T) {
	t.Parallel()
	d := seedGraphData(t)
	h := serveHub(t, d.env.App, d.env.Pool, d.seed)
	page := "/admin/t/" + d.tenant.String() + "/backups"
	ctx := d.env.Ctx

	items, err := d.env.App.Inventory.AllItems(ctx, d.second.ID)
	require.NoError(t, err)
	picked := []backup.PolicyRef{{Type: items[0].PolicyType, ID: items[0].PolicyID}, {Type: items[len(items)-1].PolicyType, ID: items[len(items)-1].PolicyID}}
	value := func(p backup.PolicyRef) string { return p.Type + "/" + p.ID }

	owner, token := signedIn(t, h, "owner")
	resp, body := owner.get(page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `action="`+page+`"`)
	require.Contains(t, body, `href="/admin/t/`+d.tenant.String()+`/inventory/snapshots/`+d.second.ID.String()+`"`, "the form names the snapshot it offers")
	for _, p := range picked {
		require.Contains(t, body, `name="policy" value="`+value(p)+`"`)
	}
	require.Contains(t, body, "New compliance policy", "policies are offered by name")

	// What the form refuses, recording nothing.
	firstItems, err := d.env.App.Inventory.AllItems(ctx, d.first.ID)
	require.NoError(t, err)
	secondHas := map[string]bool{}
	for _, it := range items {
		secondHas[it.PolicyType+"/"+it.PolicyID] = true
	}
	var gone string
	for _, it := range firstItems {
		if !secondHas[it.PolicyType+"/"+it.PolicyID] {
			gone = it.PolicyType + "/" + it.PolicyID
		}
	}
	require.NotEmpty(t, gone, "the removed policy is only in the older snapshot")
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'x'
	}
	for name, form := range map[string]url.Values{
		"no policy":           {"_csrf": {token}, "name": {"Empty"}},
		"an older snapshot's": {"_csrf": {token}, "policy": {gone}},
		"a forged value":      {"_csrf": {token}, "policy": {"deviceConfigurations"}},
		"an unknown type":     {"_csrf": {token}, "policy": {"nope/" + picked[0].ID}},
		"a long name":         {"_csrf": {token}, "policy": {value(picked[0])}, "name": {string(long)}},
	} {
		resp, body := owner.post(page, form)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, name)
		require.NotContains(t, body, "sql", name)
	}
	sets, err := d.env.App.Backup.Sets(ctx, d.tenant, 50)
	require.NoError(t, err)
	require.Len(t, sets, 1, "nothing was started")

	// The route × role matrix of the post.
	for who, want := range map[string]int{"readonly": http.StatusForbidden, "compliance": http.StatusForbidden, "outsider": http.StatusNotFound} {
		b, tok := signedIn(t, h, who)
		resp, _ := b.post(page, url.Values{"_csrf": {tok}, "policy": {value(picked[0])}})
		require.Equal(t, want, resp.StatusCode, who)
		if who != "outsider" {
			_, body := b.get(page)
			require.NotContains(t, body, `name="policy"`, "%s is offered no form", who)
		}
	}
	anon, _ := signedIn(t, h, "")
	resp, _ = anon.post(page, url.Values{"policy": {value(picked[0])}})
	require.Equal(t, "/admin/login", resp.Header.Get("Location"))
	resp, _ = owner.post(page, url.Values{"policy": {value(picked[0])}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	sets, err = d.env.App.Backup.Sets(ctx, d.tenant, 50)
	require.NoError(t, err)
	require.Len(t, sets, 1, "nothing was started")

	// The owner backs up two checked policies (one checked twice counts once).
	resp, _ = owner.post(page, url.Values{"_csrf": {token}, "name": {"Picked in the hub"}, "policy": {value(picked[0]), value(picked[1]), value(picked[0])}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, page, resp.Header.Get("Location"))
	_, body = owner.get(page)
	m := flashRunRe.FindStringSubmatch(body)
	require.NotNil(t, m, "the accepted outcome is flashed with its View-run link: %s", body)
	runID := uuid.MustParse(m[1])
	run := d.env.Wait(t, runID)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	require.Equal(t, "backup_set.add_policies", run.Type)
	require.Equal(t, "web", run.SourceSurface)
	require.Equal(t, d.seed.Users["owner"].ID, run.Initiator.UserID)
	set, err := d.env.App.Backup.SetOfRun(ctx, runID)
	require.NoError(t, err)
	require.Equal(t, "Picked in the hub", set.Name)
	setItems, err := d.env.App.Backup.Items(ctx, set.ID)
	require.NoError(t, err)
	got := map[backup.PolicyRef]bool{}
	for _, it := range setItems {
		got[backup.PolicyRef{Type: it.PolicyType, ID: it.PolicyID}] = true
	}
	require.Equal(t, map[backup.PolicyRef]bool{picked[0]: true, picked[1]: true}, got)
	_, body = owner.get(page)
	require.Contains(t, body, "Picked in the hub", "the set appears on the page")
	require.Contains(t, body, `href="/admin/t/`+d.tenant.String()+`/backups/`+set.ID.String()+`"`)

	// The operator (backup.manage) may use the form too.
	op, opToken := signedIn(t, h, "operator")
	resp, _ = op.post(page, url.Values{"_csrf": {opToken}, "policy": {value(picked[1])}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}
