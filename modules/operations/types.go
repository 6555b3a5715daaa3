package operations

// Status is where a run is in its lifecycle: queued → running → completed.
type Status string

// The run statuses.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
)

// Outcome is how a run ended (pending until it does).
type Outcome string

// The run outcomes.
const (
	OutcomePending            Outcome = "pending"
	OutcomeSucceeded          Outcome = "succeeded"
	OutcomePartiallySucceeded Outcome = "partially_succeeded"
	OutcomeFailed             Outcome = "failed"
	OutcomeBlocked            Outcome = "blocked"
	OutcomeCancelled          Outcome = "cancelled"
)

// Bucket is what the hub filters runs by; see StatusBucket.
type Bucket string

// The status buckets.
const (
	BucketQueued             Bucket = "queued"
	BucketRunning            Bucket = "running"
	BucketSucceeded          Bucket = "succeeded"
	BucketPartiallySucceeded Bucket = "partially_succeeded"
	BucketFailed             Bucket = "failed"
)

// Counts are a run's summary counts, keyed by the closed set of SummaryKeys.
type Counts map[string]int64
