package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/onboarding"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestOnboarding covers issue 12 point 4 (spec 216, 086 T036) with the workers off, so a
// run stays active until the test executes it: an owner creates a session (tenant and
// provider connection), starts the verification (then "Refresh", no second run, until
// the run ended; then it may be re-run), and bootstraps: the selected operations are
// admitted one at a time (the second not while the first is active; the next once the
// previous ended, by "Continue" or by a page load). Readonly members view but start
// nothing (403), outsiders get 404, bad input is 422.
func TestOnboarding(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{NoWorkers: true, Sim: graphsim.Config{Seed: 5, Groups: 4, RoleDefinitions: 3, Policies: 3}})
	ctx := e.Ctx
	ten := e.App.Tenancy
	seed := monolith.DemoSeed{Workspace: e.Workspace, Users: map[string]monolith.DemoLogin{}}
	const password = "correct horse battery staple"
	outsiderWS, err := ten.CreateWorkspace(ctx, "system:test", "outsiders-"+uuid.NewString()[:8])
	require.NoError(t, err)
	for _, u := range []struct {
		key  string
		role tenancy.Role
		ws   uuid.UUID
	}{{"owner", tenancy.RoleOwner, e.Workspace}, {"readonly", tenancy.RoleReadonly, e.Workspace}, {"outsider", tenancy.RoleOwner, outsiderWS.ID}} {
		user, err := ten.RegisterUser(ctx, "system:test", u.key+"-"+uuid.NewString()[:8]+"@example.test", u.key, password)
		require.NoError(t, err)
		require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: user.ID, WorkspaceID: u.ws, Role: u.role}))
		seed.Users[u.key] = monolith.DemoLogin{ID: user.ID, Email: user.Email, Password: password}
	}
	h := serveHub(t, e.App, e.Pool, seed)
	owner, ownerCSRF := signedIn(t, h, "owner")
	readonly, readonlyCSRF := signedIn(t, h, "readonly")
	outsider, outsiderCSRF := signedIn(t, h, "outsider")
	execute := func(id uuid.UUID) {
		t.Helper()
		run, err := e.App.Operations.Load(ctx, id)
		require.NoError(t, err)
		claimed, err := e.App.Operations.Claim(ctx, operations.Job{RunID: id, Type: run.Type}, "test")
		require.NoError(t, err)
		require.NotNil(t, claimed)
		e.App.Operations.Execute(ctx, claimed, "test")
		require.True(t, e.Wait(t, id).Terminal())
	}

	// The tenants page links the form for those who may onboard only.
	resp, body := owner.get("/admin/tenants")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `id="onboard-tenant"`)
	_, body = readonly.get("/admin/tenants")
	require.NotContains(t, body, `id="onboard-tenant"`)

	// The form: owner 200 (its workspace offered), readonly 403, outsider 200 (its own workspace only).
	resp, body = owner.get("/admin/onboarding")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `value="`+e.Workspace.String()+`"`)
	resp, _ = readonly.get("/admin/onboarding")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body = outsider.get("/admin/onboarding")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, e.Workspace.String())

	// Creating a session: owner 303, readonly 403, an outsider naming the workspace 404, bad input 422.
	form := func(csrf string) url.Values {
		return url.Values{"_csrf": {csrf}, "workspace": {e.Workspace.String()}, "tenant_name": {"Northwind"},
			"entra_tenant_id": {e.EntraTenant}, "client_id": {"northwind-app"}, "secret_ref": {monotest.SecretRef}, "graph_base_url": {e.Sim.URL}}
	}
	resp, _ = readonly.post("/admin/onboarding", form(readonlyCSRF))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = outsider.post("/admin/onboarding", form(outsiderCSRF))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	bad := form(ownerCSRF)
	bad.Set("secret_ref", "plain-secret-value")
	resp, body = owner.post("/admin/onboarding", bad)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.NotContains(t, body, "plain-secret-value")
	require.Contains(t, body, "env:NAME or file:NAME", "the answer names what is wrong")
	bad = form(ownerCSRF)
	bad.Set("tenant_name", " ")
	resp, body = owner.post("/admin/onboarding", bad)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "tenant name is empty")
	resp, body = owner.post("/admin/onboarding", form(ownerCSRF))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	sessURL := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(sessURL, "/admin/onboarding/"), sessURL)
	sessID := uuid.MustParse(strings.TrimPrefix(sessURL, "/admin/onboarding/"))
	sess, err := e.App.Onboarding.Session(ctx, sessID)
	require.NoError(t, err)
	tn, err := ten.Tenant(ctx, sess.TenantID)
	require.NoError(t, err)
	require.Equal(t, "Northwind", tn.Name)
	var audited int
	require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = 'onboarding.session.created' AND data->>'target' = $1`, "onboarding:"+sessID.String()).Scan(&audited))
	require.Equal(t, 1, audited)

	verifyPath := sessURL + "/provider-actions/provider.verify/start"
	bootPath := sessURL + "/provider-bootstrap/start"
	// The route × role matrix of the session's routes before anything started.
	resp, body = owner.get(sessURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `id="verify-start"`)
	require.Contains(t, body, `action="`+bootPath+`"`)
	require.NotContains(t, body, "plain-secret-value")
	require.NotContains(t, body, strings.TrimPrefix(monotest.SecretRef, "env:"))
	resp, body = readonly.get(sessURL)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, body, `id="verify-start"`, "readonly starts nothing")
	require.NotContains(t, body, `action="`+bootPath+`"`)
	resp, _ = outsider.get(sessURL)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = owner.get("/admin/onboarding/" + uuid.NewString())
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	for _, p := range []string{verifyPath, bootPath} {
		resp, _ = readonly.post(p, url.Values{"_csrf": {readonlyCSRF}, "operation": {"inventory.sync"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, p)
		resp, _ = outsider.post(p, url.Values{"_csrf": {outsiderCSRF}, "operation": {"inventory.sync"}})
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
	}
	resp, _ = owner.post(sessURL+"/provider-actions/inventory.sync/start", url.Values{"_csrf": {ownerCSRF}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "only provider.verify starts there")

	// Verification: started, then "Refresh" (and no second run) while it is active.
	resp, _ = owner.post(verifyPath, url.Values{"_csrf": {ownerCSRF}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	sess, err = e.App.Onboarding.Session(ctx, sessID)
	require.NoError(t, err)
	verifyRun := sess.VerifyRunID
	require.NotEqual(t, uuid.Nil, verifyRun)
	run, err := e.App.Operations.Load(ctx, verifyRun)
	require.NoError(t, err)
	require.Equal(t, "provider.verify", run.Type)
	require.Equal(t, sess.ConnectionID, run.ProviderConnectionID)
	_, body = owner.get(sessURL)
	require.Contains(t, body, `id="verify-refresh"`)
	require.NotContains(t, body, `id="verify-start"`)
	require.Contains(t, body, verifyRun.String())
	_, body = readonly.get(sessURL)
	require.Contains(t, body, verifyRun.String(), "readonly views the verification run")
	resp, _ = owner.post(verifyPath, url.Values{"_csrf": {ownerCSRF}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	sess, err = e.App.Onboarding.Session(ctx, sessID)
	require.NoError(t, err)
	require.Equal(t, verifyRun, sess.VerifyRunID, "no second verification while one is active")
	execute(verifyRun)
	_, body = owner.get(sessURL)
	require.Contains(t, body, `id="verify-start"`, "an ended verification may be re-run")
	require.NotContains(t, body, `id="verify-refresh"`)

	// Bootstrap: one admitted at a time.
	boot := func(ops ...string) onboarding.BootstrapOutcome {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "POST", h.base+bootPath,
			strings.NewReader(url.Values{"_csrf": {ownerCSRF}, "operation": ops}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, body := owner.do(req)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var out onboarding.BootstrapOutcome
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		var raw map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &raw))
		require.Contains(t, raw, "acceptedOperation")
		require.Contains(t, raw, "pendingOperations")
		return out
	}
	resp, _ = owner.post(bootPath, url.Values{"_csrf": {ownerCSRF}, "operation": {"drift.generate"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "not a bootstrap operation")
	resp, _ = owner.post(bootPath, url.Values{"_csrf": {ownerCSRF}, "operation": {"backup_set.add_policies"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "the first backup needs the inventory sync")
	out := boot("inventory.sync", "directory.groups.sync", "directory.role_definitions.sync", "backup_set.add_policies")
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	require.NotNil(t, out.AcceptedOperation)
	require.Equal(t, "inventory.sync", *out.AcceptedOperation)
	require.Equal(t, []string{"directory.groups.sync", "directory.role_definitions.sync", "backup_set.add_policies"}, out.PendingOperations)
	first := out.Run.ID

	out = boot() // Continue while the first is active: nothing admitted
	require.Nil(t, out.AcceptedOperation)
	require.Equal(t, operations.StartScopeBusy, out.Status)
	require.Equal(t, first, out.Run.ID)
	require.Equal(t, []string{"directory.groups.sync", "directory.role_definitions.sync", "backup_set.add_policies"}, out.PendingOperations)
	_, body = owner.get(sessURL) // a page load admits nothing either
	require.Contains(t, body, first.String())
	sess, err = e.App.Onboarding.Session(ctx, sessID)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{first}, sess.AdmittedRuns, "the second is not started while the first is active")
	var runs int
	require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM ops_runs WHERE tenant_id = $1 AND type = 'directory.groups.sync'`, sess.TenantID).Scan(&runs))
	require.Equal(t, 0, runs)

	execute(first)
	out = boot()
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	require.Equal(t, "directory.groups.sync", *out.AcceptedOperation)
	require.Equal(t, []string{"directory.role_definitions.sync", "backup_set.add_policies"}, out.PendingOperations)
	second := out.Run.ID
	run, err = e.App.Operations.Load(ctx, second)
	require.NoError(t, err)
	require.Equal(t, sess.TenantID, run.TenantID)
	require.Equal(t, sess.ConnectionID, run.ProviderConnectionID)

	// A readonly page load never admits; the owner's page load does once the previous ended.
	execute(second)
	_, _ = readonly.get(sessURL)
	sess, err = e.App.Onboarding.Session(ctx, sessID)
	require.NoError(t, err)
	require.Len(t, sess.AdmittedRuns, 2)
	_, body = owner.get(sessURL)
	sess, err = e.App.Onboarding.Session(ctx, sessID)
	require.NoError(t, err)
	require.Len(t, sess.AdmittedRuns, 3)
	require.Equal(t, "directory.role_definitions.sync", sess.CurrentType)
	require.Equal(t, []string{"backup_set.add_policies"}, sess.Pending)
	require.Contains(t, body, sess.AdmittedRuns[2].String())
	execute(sess.AdmittedRuns[2])

	// The first backup: the policies of the inventory the bootstrap took.
	out = boot()
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	require.Equal(t, "backup_set.add_policies", *out.AcceptedOperation)
	require.Empty(t, out.PendingOperations)
	backupRun, err := e.App.Operations.Load(ctx, out.Run.ID)
	require.NoError(t, err)
	var bctx struct {
		Name     string
		Policies []map[string]string
	}
	require.NoError(t, json.Unmarshal(backupRun.Context, &bctx))
	snaps, err := e.App.Inventory.LatestComplete(ctx, sess.TenantID, 1)
	require.NoError(t, err)
	require.Len(t, snaps, 1)
	items, err := e.App.Inventory.AllItems(ctx, snaps[0].ID)
	require.NoError(t, err)
	require.NotEmpty(t, items)
	require.Len(t, bctx.Policies, len(items))
	require.Contains(t, bctx.Name, "first backup")
	require.Equal(t, operations.OutcomeSucceeded, func() operations.Outcome {
		execute(out.Run.ID)
		r, _ := e.App.Operations.Load(ctx, out.Run.ID)
		return r.Outcome
	}())
	out = boot()
	require.Nil(t, out.AcceptedOperation, "nothing left")
	require.Empty(t, out.PendingOperations)
}
