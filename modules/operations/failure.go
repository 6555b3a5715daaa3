package operations

import "github.com/tenantatlas/ops/modules/failure"

// The run module's failure vocabulary is the leaf package failure (floor 0), which the
// run-type modules, projections, web and the wiring import directly. These names
// re-export it, so a run's API reads in its own terms (operations.Failure,
// operations.ReasonCode, operations.Sanitize) and this package's files use them
// unqualified; they are aliases, not copies: a value of one is a value of the other.

// ReasonCode is a stable, documented failure reason: failure.Code.
type ReasonCode = failure.Code

// Failure is one sanitized failure entry of a run: failure.Entry.
type Failure = failure.Entry

// MaxMessageLen is the longest sanitized message in runes: failure.MaxMessageLen.
const MaxMessageLen = failure.MaxMessageLen

// The stable reason codes: failure's constants under their run-module names.
const (
	ReasonProviderConnectionMissing  = failure.ProviderConnectionMissing
	ReasonProviderConnectionInvalid  = failure.ProviderConnectionInvalid
	ReasonProviderConsentMissing     = failure.ProviderConsentMissing
	ReasonProviderPermissionDenied   = failure.ProviderPermissionDenied
	ReasonProviderConnectionDisabled = failure.ProviderConnectionDisabled
	ReasonGraphThrottled             = failure.GraphThrottled
	ReasonGraphUnavailable           = failure.GraphUnavailable
	ReasonGraphTimeout               = failure.GraphTimeout
	ReasonGraphRequestFailed         = failure.GraphRequestFailed
	ReasonGraphContractMissing       = failure.GraphContractMissing
	ReasonRunContextMissing          = failure.RunContextMissing
	ReasonWorkerLost                 = failure.WorkerLost
	ReasonStaleQueuedTimeout         = failure.StaleQueuedTimeout
	ReasonDispatchFailed             = failure.DispatchFailed
	ReasonInternalError              = failure.InternalError
	ReasonValidationFailed           = failure.ValidationFailed
	ReasonItemFailed                 = failure.ItemFailed
	ReasonCancelled                  = failure.Cancelled
	ReasonScopeBusy                  = failure.ScopeBusy
	ReasonPermissionDenied           = failure.PermissionDenied
	ReasonUnknownError               = failure.UnknownError
	ReasonDriftBaselineMissing       = failure.DriftBaselineMissing
	ReasonOperationTypeUnavailable   = failure.OperationTypeUnavailable
	ReasonStartSurfaceNotAllowed     = failure.StartSurfaceNotAllowed
)

// Sanitize makes an error message safe to store or log: failure.Sanitize.
func Sanitize(msg string) string { return failure.Sanitize(msg) }

// SanitizeFailure builds a sanitized Failure from a reason code and a raw message:
// failure.New.
func SanitizeFailure(code ReasonCode, msg string) Failure { return failure.New(code, msg) }

// ReasonCodes returns every known reason code in documentation order: failure.Codes.
func ReasonCodes() []ReasonCode { return failure.Codes() }

// ReasonInfo returns the operator-facing label and next step of r: failure.Info.
func ReasonInfo(r ReasonCode) (label, nextStep string) { return failure.Info(r) }
