package operations

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownBucket is returned by ParseBucket for a value that is not a status bucket.
var ErrUnknownBucket = errors.New("operations: unknown status bucket")

// allBuckets is the closed set of buckets in display order.
var allBuckets = []Bucket{BucketQueued, BucketRunning, BucketSucceeded, BucketPartiallySucceeded, BucketFailed}

// Buckets returns every status bucket in display order (a fresh slice each call).
func Buckets() []Bucket { return append([]Bucket(nil), allBuckets...) }

// Valid reports whether b is one of the five status buckets.
func (b Bucket) Valid() bool {
	switch b {
	case BucketQueued, BucketRunning, BucketSucceeded, BucketPartiallySucceeded, BucketFailed:
		return true
	}
	return false
}

// ParseBucket parses an API or form filter value into a Bucket; it ignores case and
// surrounding spaces and wraps ErrUnknownBucket (naming the allowed values) otherwise.
func ParseBucket(s string) (Bucket, error) {
	b := Bucket(strings.ToLower(strings.TrimSpace(s)))
	if !b.Valid() {
		names := make([]string, len(allBuckets))
		for i, v := range allBuckets {
			names[i] = string(v)
		}
		return "", fmt.Errorf("%w %q (allowed: %s)", ErrUnknownBucket, s, strings.Join(names, ", "))
	}
	return b, nil
}

// StatusBucket is the bucket the hub files a run under, a pure function of its status,
// outcome and summary counts:
//
//   - queued → queued and running → running, whatever the outcome says: until a run has
//     completed its outcome is not meaningful (it is pending in every consistent state).
//   - completed + succeeded → succeeded, unless counts["failed"] > 0, then
//     partially_succeeded (some items failed although the run reported success).
//   - completed + partially_succeeded → partially_succeeded, whatever the counts.
//   - completed + failed → failed, unless counts["succeeded"] > 0, then
//     partially_succeeded (some items succeeded before the run failed).
//   - completed + blocked → failed (nothing ran), and completed + cancelled → failed,
//     whatever the counts: a cancelled run did not finish its work, so it is never
//     shown as (partially) successful.
//   - completed + pending, or any outcome this package does not know, is an
//     inconsistent terminal state → failed, so that it surfaces where operators look
//     for problems instead of passing as success or hiding among active runs.
//   - a status this package does not know → failed, for the same reason.
//
// Only positive counts count; nil counts are treated as empty.
func StatusBucket(status Status, outcome Outcome, counts Counts) Bucket {
	switch status {
	case StatusQueued:
		return BucketQueued
	case StatusRunning:
		return BucketRunning
	case StatusCompleted:
	default:
		return BucketFailed
	}
	switch outcome {
	case OutcomeSucceeded:
		if counts["failed"] > 0 {
			return BucketPartiallySucceeded
		}
		return BucketSucceeded
	case OutcomePartiallySucceeded:
		return BucketPartiallySucceeded
	case OutcomeFailed:
		if counts["succeeded"] > 0 {
			return BucketPartiallySucceeded
		}
		return BucketFailed
	default: // blocked, cancelled, pending (inconsistent), unknown
		return BucketFailed
	}
}
