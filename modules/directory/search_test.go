package directory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/graph"
)

// seedGroups writes groups through the sync's own upsert, one statement per page.
func seedGroups(t testing.TB, pool *pgxpool.Pool, tenant uuid.UUID, names []string) {
	t.Helper()
	run := uuid.New()
	for start := 0; start < len(names); start += 999 {
		end := min(start+999, len(names))
		rows := groupsKind.newRows(end - start)
		for i := start; i < end; i++ {
			_, _, ok := rows.add(graph.Object{"id": fmt.Sprintf("g-%05d", i), "displayName": names[i], "securityEnabled": true, "groupTypes": []any{"Unified"}})
			require.True(t, ok)
		}
		var created, updated int64
		args := append([]any{tenant, run, time.Now().UTC()}, rows.args()...)
		require.NoError(t, pool.QueryRow(context.Background(), groupsKind.upsert, args...).Scan(&created, &updated))
		require.Equal(t, int64(rows.len()), created)
	}
}

func TestSearchGroups(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.DB(t)
	s := New(pool, nil, nil)
	tenant, other := uuid.New(), uuid.New()
	seedGroups(t, pool, tenant, []string{"Finance Team", "Team Finance EU", "finance-admins", "HR", "50% off_club", "500 offclub", "Zeta"})
	seedGroups(t, pool, other, []string{"Finance Team (other tenant)"})

	names := func(gs []Group) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.DisplayName)
		}
		return out
	}
	got, err := s.SearchGroups(ctx, tenant, "FINANCE", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"Finance Team", "finance-admins", "Team Finance EU"}, names(got), "prefix matches first, then by name (bytewise); case-insensitive; one tenant only")
	got, err = s.SearchGroups(ctx, tenant, "50%", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"50% off_club"}, names(got), "%% is literal")
	got, err = s.SearchGroups(ctx, tenant, "f_c", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"50% off_club"}, names(got), "_ is literal")
	got, err = s.SearchGroups(ctx, tenant, "  ", 3)
	require.NoError(t, err)
	require.Equal(t, []string{"50% off_club", "500 offclub", "Finance Team"}, names(got), "the empty query lists by name")
	got, err = s.SearchGroups(ctx, tenant, "nothing like it", 10)
	require.NoError(t, err)
	require.Empty(t, got)
	g, err := s.Group(ctx, tenant, got0(t, s, tenant, "HR").ObjectID)
	require.NoError(t, err)
	require.Equal(t, []string{"Unified"}, g.GroupTypes)
	require.True(t, g.SecurityEnabled)
	_, err = s.Group(ctx, other, g.ObjectID)
	require.ErrorIs(t, err, ErrNotFound)
}

func got0(t *testing.T, s *Service, tenant uuid.UUID, q string) Group {
	t.Helper()
	gs, err := s.SearchGroups(t.Context(), tenant, q, 1)
	require.NoError(t, err)
	require.Len(t, gs, 1)
	return gs[0]
}
