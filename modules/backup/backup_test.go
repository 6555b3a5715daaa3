package backup_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestAddPoliciesEndToEnd: the gate refuses a bad context (422, nothing recorded);
// a run captures the named policies' full payloads into a sealed set it links, a
// missing policy is a failure entry, and the database refuses to change the items.
func TestAddPoliciesEndToEnd(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	_, err := e.App.Operations.Start(e.Ctx, operations.StartRequest{Type: "backup_set.add_policies", TenantID: e.Tenant,
		Context: []byte(`{"policies":[{"type":"groups","id":"x"}]}`), Initiator: operations.Initiator{Kind: "user", UserID: e.Operator.ID}})
	require.ErrorIs(t, err, operations.ErrInvalidContext)

	dc := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	sc := e.Sim.Objects(e.EntraTenant, "settingsCatalogPolicies")
	ctx := fmt.Sprintf(`{"name":"Before the change","policies":[{"type":"deviceConfigurations","id":%q},{"type":"settingsCatalogPolicies","id":%q},{"type":"compliancePolicies","id":"00000000-0000-0000-0000-00000000dead"}]}`,
		dc[0]["id"], sc[1]["id"])
	run := e.Run(t, "backup_set.add_policies", ctx)
	require.Equal(t, operations.OutcomePartiallySucceeded, run.Outcome, run.Message)
	require.Equal(t, operations.Counts{"total": 3, "processed": 3, "succeeded": 2, "items": 2, "failed": 1}, run.Counts)
	require.Len(t, run.Failures, 1)
	require.Equal(t, failure.GraphRequestFailed, run.Failures[0].ReasonCode)
	require.Contains(t, run.Failures[0].Message, "00000000-0000-0000-0000-00000000dead")

	setID := monotest.Link(t, run, operations.LinkBackupSet)
	set, err := e.App.Backup.SetOfRun(e.Ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, setID, set.ID)
	require.Equal(t, "Before the change", set.Name)
	require.Equal(t, 2, set.ItemCount)
	require.False(t, set.SealedAt.IsZero())
	sets, err := e.App.Backup.Sets(e.Ctx, e.Tenant, 10)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{setID}, []uuid.UUID{sets[0].ID})
	items, err := e.App.Backup.Items(e.Ctx, setID)
	require.NoError(t, err)
	require.Len(t, items, 2)
	it, err := e.App.Backup.Item(e.Ctx, setID, "deviceConfigurations", dc[0]["id"].(string))
	require.NoError(t, err)
	require.True(t, it.Verify())
	var payload map[string]any
	require.NoError(t, json.Unmarshal(it.Payload, &payload))
	full, ok := payload["id"]
	require.True(t, ok)
	require.Equal(t, dc[0]["id"], full)
	require.Greater(t, len(payload), 6, "the full payload, not the list's $select fields: %v", payload)

	for _, stmt := range []string{
		`UPDATE bk_items SET payload = '{}' WHERE set_id = $1`,
		`DELETE FROM bk_items WHERE set_id = $1`,
	} {
		_, err := e.Pool.Exec(e.Ctx, stmt, setID)
		require.ErrorContains(t, err, "is sealed", stmt)
	}
	var n int
	require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT count(*) FROM es_events WHERE data::text LIKE '%' || $1 || '%'`, it.SHA256).Scan(&n))
	require.Zero(t, n, "payloads and hashes stay in the backup tables")
}
