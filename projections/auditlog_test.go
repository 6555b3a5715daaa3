package projections_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
)

// TestAuditLogScopesFiltersPagesAndRebuilds: the audit log read model shows a caller
// only the tenant-less entries of its workspaces and the entries of its tenants,
// filters by actor, action, tenant, outcome and time, pages by position without a
// repeat, exports oldest first up to a position, and a blue/green rebuild from the log
// gives the same rows.
func TestAuditLogScopesFiltersPagesAndRebuilds(t *testing.T) {
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	ctx := t.Context()
	wsA, wsB := uuid.New(), uuid.New()
	tA1, tA2, tB := uuid.New(), uuid.New(), uuid.New()
	rec := func(ws, tenant uuid.UUID, action, outcome, actor string) {
		require.NoError(t, a.Audit.Record(ctx, audit.AuditRecorded{Action: action, Outcome: outcome, Actor: actor,
			WorkspaceID: ws, TenantID: tenant, Target: "run:" + uuid.NewString(), IP: "192.0.2.1", UserAgent: "test",
			Before: json.RawMessage(`{"enabled":true}`), After: json.RawMessage(`{"enabled":false}`)}))
	}
	for i := range 5 {
		rec(wsA, tA1, "operation.start", "accepted", "user:alice")
		rec(wsA, tA2, "operation.start", "denied", "user:bob")
		if i%2 == 0 {
			rec(wsA, uuid.Nil, "token.create", "succeeded", "user:alice")
		}
		rec(wsB, tB, "operation.start", "accepted", "user:eve")
		rec(wsB, uuid.Nil, "login", "failed", "system:login")
	}
	require.NoError(t, a.Store.SealCommitted(ctx))
	_, err := a.Runner.CatchUp(ctx, projections.AuditLog{})
	require.NoError(t, err)

	all := func(f projections.AuditFilter) []projections.AuditEntry {
		var out []projections.AuditEntry
		seen := map[int64]bool{}
		cursor := ""
		for {
			f.Limit = 2
			page, next, err := a.Runs.AuditPage(ctx, f, cursor)
			require.NoError(t, err)
			for _, e := range page {
				require.False(t, seen[e.Position], "position %d twice", e.Position)
				seen[e.Position] = true
				if len(out) > 0 {
					require.Less(t, e.Position, out[len(out)-1].Position, "newest first")
				}
				out = append(out, e)
			}
			if next == "" {
				return out
			}
			cursor = next
		}
	}
	// Workspace A, both its tenants: 5 + 5 + 3 entries, none of B's.
	got := all(projections.AuditFilter{Workspaces: []uuid.UUID{wsA}, Tenants: []uuid.UUID{tA1, tA2}})
	require.Len(t, got, 13)
	for _, e := range got {
		require.Equal(t, wsA, *e.WorkspaceID)
	}
	// One tenant only (a tenant-level member): its 5, no workspace entries.
	got = all(projections.AuditFilter{Tenants: []uuid.UUID{tA1}})
	require.Len(t, got, 5)
	require.JSONEq(t, `{"enabled":false}`, string(got[0].After))
	require.Len(t, got[0].Hash, 32)
	require.Len(t, got[0].ChainHash, 32)
	// Nothing visible, nothing shown.
	require.Empty(t, all(projections.AuditFilter{}))
	scope := projections.AuditFilter{Workspaces: []uuid.UUID{wsA, wsB}, Tenants: []uuid.UUID{tA1, tA2, tB}}
	for _, c := range []struct {
		name string
		tune func(*projections.AuditFilter)
		want int
	}{
		{"actor", func(f *projections.AuditFilter) { f.Actor = "user:alice" }, 8},
		{"action", func(f *projections.AuditFilter) { f.Action = "login" }, 5},
		{"tenant", func(f *projections.AuditFilter) { f.Tenant = tB }, 5},
		{"outcome", func(f *projections.AuditFilter) { f.Outcome = "denied" }, 5},
		{"since", func(f *projections.AuditFilter) { f.Since = time.Now().Add(time.Hour) }, 0},
		{"until", func(f *projections.AuditFilter) { f.Until = time.Now().Add(time.Hour) }, 23},
		{"combined", func(f *projections.AuditFilter) { f.Actor, f.Outcome = "user:alice", "accepted" }, 5},
	} {
		f := scope
		c.tune(&f)
		require.Len(t, all(f), c.want, c.name)
	}
	_, _, err = a.Runs.AuditPage(ctx, scope, "x1")
	require.ErrorIs(t, err, projections.ErrBadAuditCursor)

	// The export: oldest first, up to the position given.
	full := all(scope)
	upTo := full[3].Position
	var exported []int64
	require.NoError(t, a.Runs.AuditExport(ctx, scope, upTo, func(e projections.AuditEntry) error {
		exported = append(exported, e.Position)
		return nil
	}))
	require.Len(t, exported, len(full)-3)
	require.Equal(t, full[len(full)-1].Position, exported[0])
	require.Equal(t, upTo, exported[len(exported)-1])

	// A rebuild from the log gives the same rows.
	before := full
	_, err = a.Runner.Rebuild(ctx, projections.AuditLog{}, nil)
	require.NoError(t, err)
	require.Equal(t, before, all(scope))
}
