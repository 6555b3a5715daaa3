package restore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/restore"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// fixture is a monotest env with an owner (who may restore) and a sealed backup set.
type fixture struct {
	*monotest.Env
	owner operations.Initiator
	setID uuid.UUID
}

// newFixture backs up the named (type, index) policies of the simulator into a set.
func newFixture(t *testing.T, policies ...[2]any) *fixture {
	t.Helper()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{Sim: graphsim.Config{}})
	u, err := e.App.Tenancy.RegisterUser(e.Ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "Owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, e.App.Tenancy.GrantMembership(e.Ctx, "system:test", tenancy.Membership{UserID: u.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleOwner}))
	var refs []string
	for _, p := range policies {
		typ, i := p[0].(string), p[1].(int)
		refs = append(refs, fmt.Sprintf(`{"type":%q,"id":%q}`, typ, e.Sim.Objects(e.EntraTenant, typ)[i]["id"]))
	}
	run := e.Run(t, "backup_set.add_policies", `{"name":"Before","policies":[`+strings.Join(refs, ",")+`]}`)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	return &fixture{Env: e, owner: operations.Initiator{Kind: "user", UserID: u.ID, Name: u.Email}, setID: monotest.Link(t, run, operations.LinkBackupSet)}
}

// previewed creates a restore of the set and waits for its preview.
func (f *fixture) previewed(t *testing.T) (restore.Restore, *operations.Run) {
	t.Helper()
	r, out, err := f.App.Restore.Create(f.Ctx, f.owner, f.Tenant, f.setID, "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	run := f.Wait(t, out.Run.ID)
	require.Equal(t, restore.TypePreview, run.Type)
	r, err = f.App.Restore.Restore(f.Ctx, f.Tenant, r.ID)
	require.NoError(t, err)
	return r, run
}

func byID(t *testing.T, items []restore.Item) map[string]restore.Item {
	t.Helper()
	out := map[string]restore.Item{}
	for _, it := range items {
		out[it.PolicyID] = it
	}
	return out
}

// TestPreviewAndExecuteEndToEnd: the preview stores created / updated / unchanged per
// item without writing; execute refuses a wrong confirmation, then writes the items
// (a throttled one retried, a failing one failed with its reason code), links the
// restore to its run and audits before/after.
func TestPreviewAndExecuteEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, [2]any{"deviceConfigurations", 0}, [2]any{"deviceConfigurations", 1}, [2]any{"deviceConfigurations", 2},
		[2]any{"settingsCatalogPolicies", 0})
	dc := f.Sim.Objects(f.EntraTenant, "deviceConfigurations")
	sc := f.Sim.Objects(f.EntraTenant, "settingsCatalogPolicies")
	changed, same, gone, failing := dc[0]["id"].(string), dc[1]["id"].(string), dc[2]["id"].(string), sc[0]["id"].(string)
	origDesc := dc[0]["description"]
	dc[0]["description"] = "changed by hand"
	f.Sim.SetObject(f.EntraTenant, "deviceConfigurations", dc[0])
	require.True(t, f.Sim.DeleteObject(f.EntraTenant, "deviceConfigurations", gone))
	sc[0]["description"] = "changed too"
	f.Sim.SetObject(f.EntraTenant, "settingsCatalogPolicies", sc[0])
	f.Sim.SetFaults(f.EntraTenant, graphsim.Faults{WriteThrottle: []string{changed}, RetryAfter: "0", WriteFail: []string{failing}})

	f.Sim.ResetCounters()
	r, prun := f.previewed(t)
	require.Equal(t, operations.OutcomeSucceeded, prun.Outcome, prun.Message)
	require.Equal(t, restore.StatusPreviewed, r.Status)
	require.Equal(t, prun.ID, r.PreviewRunID)
	require.Equal(t, r.ID, monotest.Link(t, prun, operations.LinkRestore), "the preview run links its restore")
	items, err := f.App.Restore.Items(f.Ctx, r.ID)
	require.NoError(t, err)
	it := byID(t, items)
	require.Equal(t, "updated", it[changed].Diff)
	require.Equal(t, []string{"description"}, it[changed].ChangedFields)
	require.Equal(t, "unchanged", it[same].Diff)
	require.Equal(t, "created", it[gone].Diff)
	require.Equal(t, "updated", it[failing].Diff)
	require.Equal(t, "changed by hand", f.Sim.Objects(f.EntraTenant, "deviceConfigurations")[0]["description"], "the preview never writes")

	// The confirmation is the tenant's name, exactly.
	_, err = f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "contoso", "n1", "test")
	require.ErrorIs(t, err, restore.ErrConfirmation)
	// The operator role cannot restore; a stranger's tenant is not found.
	_, err = f.App.Restore.StartExecute(f.Ctx, operations.Initiator{Kind: "user", UserID: f.Operator.ID}, f.Tenant, r.ID, "Contoso", "n1", "test")
	require.ErrorIs(t, err, operations.ErrForbidden)
	_, err = f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, uuid.New(), "Contoso", "n1", "test")
	require.ErrorIs(t, err, restore.ErrNotFound)

	out, err := f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n1", "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status, out.OperatorMessage)
	again, err := f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n1", "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartDeduped, again.Status, "a double-submit of one click is one run")
	run := f.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomePartiallySucceeded, run.Outcome, run.Message)
	require.Equal(t, r.ID, monotest.Link(t, run, operations.LinkRestore))
	require.Equal(t, operations.Counts{"total": 4, "processed": 4, "succeeded": 2, "created": 1, "updated": 1, "skipped": 1, "failed": 1}, run.Counts)
	require.Len(t, run.Failures, 1)
	require.Equal(t, failure.GraphRequestFailed, run.Failures[0].ReasonCode)

	items, err = f.App.Restore.Items(f.Ctx, r.ID)
	require.NoError(t, err)
	it = byID(t, items)
	require.Equal(t, "updated", it[changed].Result)
	require.Equal(t, "skipped", it[same].Result)
	require.Equal(t, "restore_item_unchanged", it[same].ReasonCode)
	require.Equal(t, "created", it[gone].Result)
	require.NotEmpty(t, it[gone].CreatedID)
	require.Equal(t, "failed", it[failing].Result)
	require.Equal(t, string(failure.GraphRequestFailed), it[failing].ReasonCode)
	require.NotEmpty(t, it[failing].Message)

	// The throttled item was retried (two PATCHes) and landed.
	require.Equal(t, int64(3), f.Sim.PathRequests("/beta/deviceManagement/deviceConfigurations/"+changed), "the preview's GET and two PATCHes (429, then served)")
	now := f.Sim.Objects(f.EntraTenant, "deviceConfigurations")
	require.Equal(t, origDesc, now[0]["description"])
	require.Equal(t, dc[2]["displayName"], now[len(now)-1]["displayName"], "the deleted policy was created again")
	require.Equal(t, "changed too", f.Sim.Objects(f.EntraTenant, "settingsCatalogPolicies")[0]["description"])

	r, err = f.App.Restore.Restore(f.Ctx, f.Tenant, r.ID)
	require.NoError(t, err)
	require.Equal(t, restore.StatusExecuted, r.Status)
	require.Equal(t, run.ID, r.ExecuteRunID)
	_, err = f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n2", "test")
	require.ErrorIs(t, err, restore.ErrAlreadyExecuted)

	// Audited with before/after.
	var before, after json.RawMessage
	var actor string
	require.NoError(t, f.Pool.QueryRow(f.Ctx, `SELECT data->'before', data->'after', data->>'actor' FROM es_events
		WHERE event_type = 'AuditRecorded' AND data->>'action' = 'restore.executed' AND data->>'target' = $1`, "restore:"+r.ID.String()).Scan(&before, &after, &actor))
	require.Equal(t, "user:"+f.owner.UserID.String(), actor)
	require.Contains(t, string(before), `"diff":"updated"`)
	require.Contains(t, string(after), `"result":"failed"`)
	require.Contains(t, string(after), `"reasonCode":"graph_request_failed"`)
	require.Contains(t, string(after), run.ID.String())
}

// TestHighRiskIsPreviewOnly: a restore holding a compliance policy previews, but
// executes only once the workspace enables high-risk restores.
func TestHighRiskIsPreviewOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, [2]any{"compliancePolicies", 0})
	r, prun := f.previewed(t)
	require.Equal(t, operations.OutcomeSucceeded, prun.Outcome, prun.Message)
	items, err := f.App.Restore.Items(f.Ctx, r.ID)
	require.NoError(t, err)
	require.True(t, items[0].HighRisk)
	require.Equal(t, "unchanged", items[0].Diff)

	_, err = f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n1", "test")
	require.ErrorIs(t, err, restore.ErrHighRisk)
	require.NoError(t, f.App.Restore.SetWorkspaceSettings(f.Ctx, tenancy.UserActor(f.owner.UserID), f.Workspace, restore.Settings{HighRiskEnabled: true}))
	out, err := f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n1", "test")
	require.NoError(t, err)
	run := f.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	require.Equal(t, operations.Counts{"total": 1, "processed": 1, "skipped": 1}, run.Counts)
}

// TestExecuteGate: execute is scope_busy while a backup or another restore of the
// tenant runs, and blocked while the connection lacks consent; refused starts write
// nothing and leave the restore to execute later.
func TestExecuteGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, [2]any{"deviceConfigurations", 0})
	dc := f.Sim.Objects(f.EntraTenant, "deviceConfigurations")
	dc[0]["description"] = "changed"
	f.Sim.SetObject(f.EntraTenant, "deviceConfigurations", dc[0])
	r, _ := f.previewed(t)

	// A slow backup holds the tenant's protected scope.
	f.Sim.SetFaults(f.EntraTenant, graphsim.Faults{Latency: 2 * time.Second})
	bk := f.Start(t, "backup_set.add_policies", fmt.Sprintf(`{"policies":[{"type":"deviceConfigurations","id":%q}]}`, dc[1]["id"]))
	require.Equal(t, operations.StartAccepted, bk.Status)
	busy, err := f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n1", "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartScopeBusy, busy.Status)
	f.Wait(t, bk.Run.ID)
	f.Sim.SetFaults(f.EntraTenant, graphsim.Faults{})
	got, err := f.App.Restore.Restore(f.Ctx, f.Tenant, r.ID)
	require.NoError(t, err)
	require.Equal(t, restore.StatusPreviewed, got.Status, "a refused start leaves the restore to execute later")

	// Another restore's execution holds the scope too.
	r2, _ := f.previewed(t)
	f.Sim.SetFaults(f.EntraTenant, graphsim.Faults{Latency: 2 * time.Second})
	first, err := f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r2.ID, "Contoso", "m1", "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, first.Status)
	busy, err = f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n1b", "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartScopeBusy, busy.Status, "one restore at a time per tenant connection")
	f.Wait(t, first.Run.ID)
	f.Sim.SetFaults(f.EntraTenant, graphsim.Faults{})
	dc[0]["description"] = "changed"
	f.Sim.SetObject(f.EntraTenant, "deviceConfigurations", dc[0])

	require.NoError(t, f.App.Tenancy.SetConnectionStatus(f.Ctx, "system:test", f.Conn, tenancy.ConnectionConsentMissing, string(failure.ProviderConsentMissing)))
	blocked, err := f.App.Restore.StartExecute(f.Ctx, f.owner, f.Tenant, r.ID, "Contoso", "n2", "test")
	require.NoError(t, err)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	require.Equal(t, failure.ProviderConsentMissing, blocked.ReasonCode)
	require.Equal(t, "changed", f.Sim.Objects(f.EntraTenant, "deviceConfigurations")[0]["description"], "nothing written")
	got, err = f.App.Restore.Restore(f.Ctx, f.Tenant, r.ID)
	require.NoError(t, err)
	require.Equal(t, restore.StatusPreviewed, got.Status)
}
