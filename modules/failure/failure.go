// Package failure is the failure vocabulary every module shares: the stable reason codes
// (Code, with each code's operator-facing label and next step: Info, Codes), the failure
// entry of a run (Entry, New) and the message sanitizer (Sanitize) that keeps credentials
// and payload dumps out of failures, events, notifications and log lines. It is pure
// data and string handling: no I/O, no state.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0, a leaf: it imports
// the standard library only, nothing of this module, so web, the run-type modules,
// projections and the wiring use it without importing the run module (operations, which
// re-exports it as its own vocabulary: operations.ReasonCode, operations.Failure,
// operations.Sanitize). architecture_test.go checks this.
package failure

// Code is a stable, documented failure reason (specs/002-operation-runs/reason-codes.md).
type Code string

// Entry is one sanitized failure entry of a run: a stable reason code and a message
// that has been through Sanitize.
type Entry struct {
	// ReasonCode is one of the Code constants.
	ReasonCode Code `json:"reasonCode"`
	// Message is sanitized and capped.
	Message string `json:"message"`
}
