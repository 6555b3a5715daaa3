package operations_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

func TestSummaryKeys(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"total", "processed", "succeeded", "failed", "skipped",
		"created", "updated", "deleted", "items", "tenants"}, operations.SummaryKeys)
	for _, k := range operations.SummaryKeys {
		require.True(t, operations.IsSummaryKey(k), k)
	}
	require.False(t, operations.IsSummaryKey("Total"))
	require.False(t, operations.IsSummaryKey(""))
}

func TestValidateCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		counts   operations.Counts
		wantIs   []error
		contains []string
	}{
		{name: "nil", counts: nil},
		{name: "empty", counts: operations.Counts{}},
		{name: "every key", counts: operations.Counts{"total": 1, "processed": 1, "succeeded": 1, "failed": 0,
			"skipped": 0, "created": 2, "updated": 3, "deleted": 4, "items": 5, "tenants": 6}},
		{name: "unknown key", counts: operations.Counts{"total": 1, "errors": 2},
			wantIs:   []error{operations.ErrUnknownCountKey},
			contains: []string{`"errors"`, "allowed: total, processed, succeeded, failed, skipped, created, updated, deleted, items, tenants"}},
		{name: "key is case-sensitive", counts: operations.Counts{"Total": 1},
			wantIs: []error{operations.ErrUnknownCountKey}, contains: []string{`"Total"`}},
		{name: "negative", counts: operations.Counts{"failed": -1},
			wantIs: []error{operations.ErrNegativeCount}, contains: []string{`"failed"`, "-1"}},
		{name: "both, all named", counts: operations.Counts{"zeta": 1, "alpha": 1, "skipped": -3},
			wantIs:   []error{operations.ErrUnknownCountKey, operations.ErrNegativeCount},
			contains: []string{`"alpha"`, `"zeta"`, `"skipped" is -3`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := operations.ValidateCounts(tt.counts)
			if len(tt.wantIs) == 0 {
				require.NoError(t, err)
				return
			}
			for _, target := range tt.wantIs {
				require.ErrorIs(t, err, target)
			}
			for _, s := range tt.contains {
				require.ErrorContains(t, err, s)
			}
		})
	}
}

func TestValidateCountsIsDeterministic(t *testing.T) {
	t.Parallel()
	c := operations.Counts{"b": 1, "a": 1, "c": 1, "d": 1}
	first := operations.ValidateCounts(c).Error()
	for range 20 {
		require.Equal(t, first, operations.ValidateCounts(c).Error())
	}
}

func TestCountsAdd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		a, delta operations.Counts
		want     operations.Counts
	}{
		{"nil plus nil", nil, nil, operations.Counts{}},
		{"nil plus delta", nil, operations.Counts{"total": 3}, operations.Counts{"total": 3}},
		{"counts plus nil", operations.Counts{"total": 3}, nil, operations.Counts{"total": 3}},
		{"sum per key", operations.Counts{"processed": 2, "succeeded": 1}, operations.Counts{"processed": 1, "failed": 1},
			operations.Counts{"processed": 3, "succeeded": 1, "failed": 1}},
		{"negative delta", operations.Counts{"processed": 2}, operations.Counts{"processed": -1}, operations.Counts{"processed": 1}},
		{"saturates high", operations.Counts{"items": math.MaxInt64 - 1}, operations.Counts{"items": 5}, operations.Counts{"items": math.MaxInt64}},
		{"saturates low", operations.Counts{"items": math.MinInt64 + 1}, operations.Counts{"items": -5}, operations.Counts{"items": math.MinInt64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.a.Add(tt.delta))
		})
	}
}

func TestCountsAddDoesNotModifyOperands(t *testing.T) {
	t.Parallel()
	a := operations.Counts{"total": 1}
	d := operations.Counts{"total": 2, "failed": 1}
	sum := a.Add(d)
	sum["total"] = 100
	require.Equal(t, operations.Counts{"total": 1}, a)
	require.Equal(t, operations.Counts{"total": 2, "failed": 1}, d)
}
