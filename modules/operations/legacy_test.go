package operations_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/legacy"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestImportLegacyKeepsUnmappableRowsAsHistory: a legacy row naming an operation run
// that does not exist, or another tenant's, is kept once as read-only history of its
// tenant (LegacyRunRecorded in its own stream, sanitized, no run made up); a row of an
// unknown tenant is refused; a later import naming a run that exists links it.
func TestImportLegacyKeepsUnmappableRowsAsHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.DB(t))
	imp := legacy.New(f.pool, f.store, f.ten, audit.NewRecorder(f.store), f.ops)
	row := legacy.Row{Table: "entra_group_sync_runs", ID: 31, TenantID: f.tenant, Status: "  failed ",
		StartedAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Counts: map[string]int64{"total": 5, "nope": 1},
		Error: "token: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", OperationRunID: new(uuid.UUID)}
	*row.OperationRunID = uuid.New()
	res, err := imp.Import(f.ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Recorded, res)
	res, err = imp.Import(f.ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Unchanged, res)
	envs, err := f.store.ReadStream(f.ctx, legacy.Stream(row.Table, row.ID), 0)
	require.NoError(t, err)
	require.Len(t, envs, 1)
	rec := envs[0].Data.(operations.LegacyRunRecorded)
	require.Equal(t, "failed", rec.Status)
	require.Equal(t, operations.Counts{"total": 5}, rec.Counts)
	require.NotContains(t, rec.Error, "eyJhbGci")
	require.Equal(t, "operation_run_missing", rec.Unmapped)
	require.Equal(t, f.tenant, envs[0].Metadata.TenantID)
	_, err = f.ops.Load(f.ctx, legacy.RunID(row.Table, row.ID))
	require.ErrorIs(t, err, operations.ErrNotFound)

	// Another tenant's run: history of the row's own tenant, the run left alone.
	other := f.start(t, "operator", "drift.generate", f.bare, `{}`)
	row2 := row
	row2.ID, row2.OperationRunID = 32, &other.Run.ID
	res, err = imp.Import(f.ctx, row2)
	require.NoError(t, err)
	require.Equal(t, legacy.Recorded, res)
	envs, err = f.store.ReadStream(f.ctx, legacy.Stream(row2.Table, row2.ID), 0)
	require.NoError(t, err)
	require.Equal(t, "operation_run_other_tenant", envs[0].Data.(operations.LegacyRunRecorded).Unmapped)
	otherRun, err := f.ops.Load(f.ctx, other.Run.ID)
	require.NoError(t, err)
	require.Empty(t, otherRun.Legacy)

	// Unknown tenant: refused.
	row3 := row
	row3.ID, row3.TenantID = 33, uuid.New()
	_, err = imp.Import(f.ctx, row3)
	require.ErrorIs(t, err, legacy.ErrRow)
	envs, err = f.store.ReadStream(f.ctx, legacy.Stream(row3.Table, row3.ID), 0)
	require.NoError(t, err)
	require.Empty(t, envs)

	// The run exists now: the row is linked.
	mine := f.start(t, "operator", "drift.generate", f.tenant, `{"baseline":"legacy"}`)
	row.OperationRunID = &mine.Run.ID
	res, err = imp.Import(f.ctx, row)
	require.NoError(t, err)
	require.Equal(t, legacy.Linked, res)
}
