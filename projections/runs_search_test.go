package projections_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/projections"
)

// TestParseRunSearch reads the grammar's terms and refuses what it cannot read.
func TestParseRunSearch(t *testing.T) {
	t.Parallel()
	s, err := projections.ParseRunSearch(`policyType:deviceConfiguration initiator:"Ada Lovelace" id:0A1B-2c schedule:42`)
	require.NoError(t, err)
	require.Equal(t, projections.RunSearch{IDPrefix: "0a1b2c", Initiator: "Ada Lovelace", Context: []projections.ContextTerm{
		{Key: "policyTypes", Value: "deviceConfiguration"}, {Key: "scheduleId", Value: "42"}}}, s)
	s, err = projections.ParseRunSearch("  deadbeef ")
	require.NoError(t, err)
	require.Equal(t, "deadbeef", s.IDPrefix, "a bare hex term is an id prefix")
	s, err = projections.ParseRunSearch("")
	require.NoError(t, err)
	require.True(t, s.Empty())
	for _, bad := range []string{strings.Repeat("a", projections.MaxSearchLen+1), "hello", "id:xyz", `initiator:"open`,
		"a:1 b:2 c:3 d:4 e:5 f:6 g:7 h:8 i:9", "1bad:key", "key:", "id:" + strings.Repeat("a", 33), "a\x00b:1", "----"} {
		_, err := projections.ParseRunSearch(bad)
		require.ErrorIs(t, err, projections.ErrBadSearch, bad)
	}
}

// TestRunSearchAndExport searches the hub read model by id prefix, initiator and context
// (combined with the other filters), and exports in batches exactly what the list pages.
func TestRunSearchAndExport(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.runSome(t, 7)
	r := projections.NewRunner(w.pool, w.app.Store, projections.Options{})
	_, err := r.CatchUp(w.ctx, projections.HubRuns{})
	require.NoError(t, err)
	all := tenantIDs(w)
	search := func(q string, f projections.RunFilter) []uuid.UUID {
		t.Helper()
		s, err := projections.ParseRunSearch(q)
		require.NoError(t, err)
		f.TenantIDs, f.Search, f.Limit = all, s, 50
		list, _, err := w.app.Runs.List(w.ctx, f)
		require.NoError(t, err)
		var out []uuid.UUID
		for _, run := range list {
			out = append(out, run.ID)
		}
		return out
	}
	require.Equal(t, []uuid.UUID{ids[3]}, search("baseline:n3", projections.RunFilter{}))
	require.Empty(t, search("baseline:n3", projections.RunFilter{Tenant: w.seed.Tenants[1].ID}), "run 3 is tenant 0's")
	require.Equal(t, []uuid.UUID{ids[3]}, search("baseline:n3", projections.RunFilter{Tenant: w.seed.Tenants[0].ID}))
	require.Empty(t, search("baseline:n3 baseline:n4", projections.RunFilter{}), "terms are ANDed")
	require.Equal(t, []uuid.UUID{ids[5]}, search(ids[5].String()[:28], projections.RunFilter{}), "ids are UUIDv7: runs of one millisecond share 12 digits")
	require.Equal(t, []uuid.UUID{ids[5]}, search("id:"+ids[5].String(), projections.RunFilter{}), "a whole id is a prefix of itself")
	op := w.seed.Users["operator"]
	require.Len(t, search("initiator:"+strings.ToUpper(op.Email), projections.RunFilter{}), 7)
	require.Empty(t, search("initiator:nobody", projections.RunFilter{}))
	// Outside the visible tenants nothing is found.
	s, _ := projections.ParseRunSearch("baseline:n3")
	list, _, err := w.app.Runs.List(w.ctx, projections.RunFilter{TenantIDs: all[1:], Search: s})
	require.NoError(t, err)
	require.Empty(t, list)

	// Export in batches of 2 = the list, same order.
	want, _, err := w.app.Runs.List(w.ctx, projections.RunFilter{TenantIDs: all, Limit: 200})
	require.NoError(t, err)
	var got []projections.RunSummary
	batches := 0
	require.NoError(t, w.app.Runs.Export(w.ctx, projections.RunFilter{TenantIDs: all}, 2, func(b []projections.RunSummary) error {
		require.LessOrEqual(t, len(b), 2)
		batches++
		got = append(got, b...)
		return nil
	}))
	require.Equal(t, want, got)
	require.Equal(t, 4, batches)
	stop := errors.New("stop")
	require.ErrorIs(t, w.app.Runs.Export(w.ctx, projections.RunFilter{TenantIDs: all}, 2, func([]projections.RunSummary) error { return stop }), stop)
}
