package operations_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/operations"
)

// startAudits returns the operation.start audit entries of actor, oldest first.
func (f *fixture) startAudits(t *testing.T, actor string) []audit.AuditRecorded {
	t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT data FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 AND data->>'actor' = $2 ORDER BY (data->>'entryId')::uuid`, operations.AuditActionStart, actor)
	require.NoError(t, err)
	defer rows.Close()
	var out []audit.AuditRecorded
	for rows.Next() {
		var a audit.AuditRecorded
		require.NoError(t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestStartAttemptsAreAudited: every start attempt of a user is one audit entry with its
// outcome — accepted, deduped, scope_busy, blocked, denied (forbidden and not found) —
// the actor, the client's address and user agent, the target and, for a start that made
// a run, the run's state after; an accepted start that turned out deduped leaves no
// accepted entry behind (it rolled back with the run).
func TestStartAttemptsAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	owner := "user:" + f.users["owner"].ID.String()

	first := f.start(t, "owner", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartAccepted, first.Status)
	dup := f.start(t, "owner", "inventory.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartDeduped, dup.Status)
	busy := f.start(t, "owner", "directory.groups.sync", f.tenant, `{}`)
	require.Equal(t, operations.StartScopeBusy, busy.Status)
	blocked := f.start(t, "owner", "inventory.sync", f.bare, `{}`)
	require.Equal(t, operations.StartBlocked, blocked.Status)
	drift := f.start(t, "owner", "drift.generate", f.bare, `{"baseline":"x"}`)
	require.Equal(t, operations.StartAccepted, drift.Status)
	driftDup := f.start(t, "owner", "drift.generate", f.bare, `{"baseline":"x"}`)
	require.Equal(t, operations.StartDeduped, driftDup.Status, "found by the insert's unique violation")

	type row struct {
		Outcome, Target, Reason string
		Tenant                  uuid.UUID
	}
	var got []row
	for _, e := range f.startAudits(t, owner) {
		require.Equal(t, "127.0.0.1", e.IP)
		require.Equal(t, "test", e.UserAgent)
		require.Equal(t, f.workspace, e.WorkspaceID)
		got = append(got, row{e.Outcome, e.Target, e.Reason, e.TenantID})
		switch e.Outcome {
		case "accepted":
			var after map[string]string
			require.NoError(t, json.Unmarshal(e.After, &after))
			require.Equal(t, "queued", after["status"])
			require.Contains(t, []string{"inventory.sync", "drift.generate"}, after["type"])
		case "blocked":
			require.JSONEq(t, `{"type":"inventory.sync","status":"completed","outcome":"blocked"}`, string(e.After))
		default:
			require.Empty(t, e.After, "%s changed nothing", e.Outcome)
		}
	}
	run := func(o operations.StartOutcome) string { return "run:" + o.Run.ID.String() }
	require.Equal(t, []row{
		{"accepted", run(first), "", f.tenant},
		{"deduped", run(first), "", f.tenant},
		{"scope_busy", run(first), string(operations.ReasonScopeBusy), f.tenant},
		{"blocked", run(blocked), string(operations.ReasonProviderConnectionMissing), f.bare},
		{"accepted", run(drift), "", f.bare},
		{"deduped", run(drift), "", f.bare},
	}, got)

	// Refused starts: a member lacking the capability (403), and a user of another
	// workspace (404: the entry names the tenant asked for, but not its workspace).
	_, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "inventory.sync", TenantID: f.tenant, Initiator: f.initiator("readonly")})
	require.ErrorIs(t, err, operations.ErrForbidden)
	_, err = f.ops.Start(f.ctx, operations.StartRequest{Type: "inventory.sync", TenantID: f.tenant, Initiator: f.initiator("outsider")})
	require.ErrorIs(t, err, operations.ErrNotFound)
	readonly := f.startAudits(t, "user:"+f.users["readonly"].ID.String())
	require.Len(t, readonly, 1)
	require.Equal(t, audit.AuditRecorded{EntryID: readonly[0].EntryID, Action: operations.AuditActionStart, Outcome: operations.AuditDenied,
		Actor: "user:" + f.users["readonly"].ID.String(), WorkspaceID: f.workspace, TenantID: f.tenant, Target: "type:inventory.sync",
		IP: "127.0.0.1", UserAgent: "test", Reason: string(operations.ReasonPermissionDenied)}, readonly[0])
	outsider := f.startAudits(t, "user:"+f.users["outsider"].ID.String())
	require.Len(t, outsider, 1)
	require.Equal(t, audit.AuditRecorded{EntryID: outsider[0].EntryID, Action: operations.AuditActionStart, Outcome: operations.AuditDenied,
		Actor: "user:" + f.users["outsider"].ID.String(), Target: "tenant:" + f.tenant.String() + "/type:inventory.sync",
		IP: "127.0.0.1", UserAgent: "test", Reason: operations.DeniedNotFound}, outsider[0])
}

// TestDeniedStartAuditIsCapped: a user repeating refused starts gets audit.DeniedLimit
// entries a window, not one per attempt; every attempt is still refused.
func TestDeniedStartAuditIsCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	for range 3 * audit.DeniedLimit {
		_, err := f.ops.Start(f.ctx, operations.StartRequest{Type: "inventory.sync", TenantID: uuid.New(), Initiator: f.initiator("outsider")})
		require.ErrorIs(t, err, operations.ErrNotFound)
	}
	require.Len(t, f.startAudits(t, "user:"+f.users["outsider"].ID.String()), audit.DeniedLimit)
}

// TestLegacyImportIsAudited: an imported legacy row is a legacy.import audit entry with
// the importing actor, the row as target and the run it became as After; importing it
// again records nothing.
func TestLegacyImportIsAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	id := time.Now().UnixNano()
	importer := legacy.New(f.pool, f.store, f.ten, audit.NewRecorder(f.store), f.ops)
	row := legacy.Row{Table: "inventory_sync_runs", ID: id, TenantID: f.tenant, Status: "completed",
		StartedAt: time.Now().Add(-time.Hour), FinishedAt: time.Now()}
	res, err := importer.Import(f.ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Imported, res)
	res, err = importer.Import(f.ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Unchanged, res)

	var entries []audit.AuditRecorded
	rows, err := f.pool.Query(f.ctx, `SELECT data FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = 'legacy.import' AND data->>'target' = $1`, "inventory_sync_runs:"+jsonInt(id))
	require.NoError(t, err)
	for rows.Next() {
		var e audit.AuditRecorded
		require.NoError(t, rows.Scan(&e))
		entries = append(entries, e)
	}
	require.NoError(t, rows.Err())
	require.Len(t, entries, 1)
	e := entries[0]
	require.Equal(t, "system:legacy-import", e.Actor)
	require.Equal(t, "imported", e.Outcome)
	require.Equal(t, f.tenant, e.TenantID)
	require.JSONEq(t, `{"runId":"`+legacy.RunID("inventory_sync_runs", id).String()+`"}`, string(e.After))
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
