package operations_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

func TestStatusBucketEveryStatusAndOutcome(t *testing.T) {
	t.Parallel()
	const (
		queued    = operations.BucketQueued
		running   = operations.BucketRunning
		succeeded = operations.BucketSucceeded
		partial   = operations.BucketPartiallySucceeded
		failed    = operations.BucketFailed
	)
	outcomes := []operations.Outcome{
		operations.OutcomePending, operations.OutcomeSucceeded, operations.OutcomePartiallySucceeded,
		operations.OutcomeFailed, operations.OutcomeBlocked, operations.OutcomeCancelled, "", "bogus",
	}
	// want[status][i] is the bucket for outcomes[i] with no counts.
	want := map[operations.Status][]operations.Bucket{
		operations.StatusQueued:    {queued, queued, queued, queued, queued, queued, queued, queued},
		operations.StatusRunning:   {running, running, running, running, running, running, running, running},
		operations.StatusCompleted: {failed, succeeded, partial, failed, failed, failed, failed, failed},
		"":                         {failed, failed, failed, failed, failed, failed, failed, failed},
		"bogus":                    {failed, failed, failed, failed, failed, failed, failed, failed},
	}
	for status, buckets := range want {
		require.Len(t, buckets, len(outcomes))
		for i, outcome := range outcomes {
			require.Equal(t, buckets[i], operations.StatusBucket(status, outcome, nil), "%q + %q", status, outcome)
			require.Equal(t, buckets[i], operations.StatusBucket(status, outcome, operations.Counts{}), "%q + %q, empty counts", status, outcome)
		}
	}
}

func TestStatusBucketCounts(t *testing.T) {
	t.Parallel()
	c := operations.StatusCompleted
	tests := []struct {
		name    string
		status  operations.Status
		outcome operations.Outcome
		counts  operations.Counts
		want    operations.Bucket
	}{
		{"succeeded, all items ok", c, operations.OutcomeSucceeded, operations.Counts{"total": 5, "succeeded": 5}, operations.BucketSucceeded},
		{"succeeded with failed items", c, operations.OutcomeSucceeded, operations.Counts{"succeeded": 4, "failed": 1}, operations.BucketPartiallySucceeded},
		{"succeeded, only failed items", c, operations.OutcomeSucceeded, operations.Counts{"failed": 3}, operations.BucketPartiallySucceeded},
		{"succeeded, failed zero", c, operations.OutcomeSucceeded, operations.Counts{"failed": 0}, operations.BucketSucceeded},
		{"succeeded, failed negative is ignored", c, operations.OutcomeSucceeded, operations.Counts{"failed": -1}, operations.BucketSucceeded},
		{"succeeded, skipped is not a failure", c, operations.OutcomeSucceeded, operations.Counts{"skipped": 7}, operations.BucketSucceeded},
		{"partial, no counts", c, operations.OutcomePartiallySucceeded, nil, operations.BucketPartiallySucceeded},
		{"partial, nothing failed", c, operations.OutcomePartiallySucceeded, operations.Counts{"succeeded": 2}, operations.BucketPartiallySucceeded},
		{"failed with succeeded items", c, operations.OutcomeFailed, operations.Counts{"succeeded": 1, "failed": 9}, operations.BucketPartiallySucceeded},
		{"failed, nothing succeeded", c, operations.OutcomeFailed, operations.Counts{"succeeded": 0, "failed": 9}, operations.BucketFailed},
		{"failed, processed is not success", c, operations.OutcomeFailed, operations.Counts{"processed": 9}, operations.BucketFailed},
		{"blocked ignores counts", c, operations.OutcomeBlocked, operations.Counts{"succeeded": 3}, operations.BucketFailed},
		{"cancelled ignores succeeded items", c, operations.OutcomeCancelled, operations.Counts{"succeeded": 3}, operations.BucketFailed},
		{"pending ignores counts", c, operations.OutcomePending, operations.Counts{"succeeded": 3}, operations.BucketFailed},
		{"running ignores failed items", operations.StatusRunning, operations.OutcomePending, operations.Counts{"failed": 3}, operations.BucketRunning},
		{"queued ignores counts", operations.StatusQueued, operations.OutcomePending, operations.Counts{"succeeded": 3, "failed": 1}, operations.BucketQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, operations.StatusBucket(tt.status, tt.outcome, tt.counts))
		})
	}
}

func TestParseBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    operations.Bucket
		wantErr bool
	}{
		{"queued", operations.BucketQueued, false},
		{"running", operations.BucketRunning, false},
		{"succeeded", operations.BucketSucceeded, false},
		{"partially_succeeded", operations.BucketPartiallySucceeded, false},
		{"failed", operations.BucketFailed, false},
		{" Failed ", operations.BucketFailed, false},
		{"PARTIALLY_SUCCEEDED", operations.BucketPartiallySucceeded, false},
		{"", "", true},
		{"completed", "", true},
		{"blocked", "", true},
		{"partially-succeeded", "", true},
	}
	for _, tt := range tests {
		got, err := operations.ParseBucket(tt.in)
		if tt.wantErr {
			require.ErrorIs(t, err, operations.ErrUnknownBucket, tt.in)
			require.ErrorContains(t, err, "queued, running, succeeded, partially_succeeded, failed")
			require.Empty(t, got)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got)
	}
}

func TestBucketValid(t *testing.T) {
	t.Parallel()
	for _, b := range operations.Buckets() {
		require.True(t, b.Valid(), b)
		got, err := operations.ParseBucket(string(b))
		require.NoError(t, err)
		require.Equal(t, b, got)
	}
	require.Len(t, operations.Buckets(), 5)
	for _, b := range []operations.Bucket{"", "completed", "Failed", "pending"} {
		require.False(t, b.Valid(), b)
	}
	bs := operations.Buckets()
	bs[0] = "mutated"
	require.Equal(t, operations.BucketQueued, operations.Buckets()[0], "Buckets returns a copy")
}
