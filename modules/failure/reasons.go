package failure

// The stable reason codes. They are stored in events and shown to operators, so a code
// is never renamed or reused; specs/002-operation-runs/reason-codes.md documents each.
const (
	// ProviderConnectionMissing — the tenant has no provider connection to use.
	ProviderConnectionMissing Code = "provider_connection_missing"
	// ProviderConnectionInvalid — the connection is unusable (wrong tenant, bad
	// credentials, unknown state).
	ProviderConnectionInvalid Code = "provider_connection_invalid"
	// ProviderConsentMissing — admin consent has not been granted for the app.
	ProviderConsentMissing Code = "provider_consent_missing"
	// ProviderPermissionDenied — the app lacks a Microsoft Graph permission.
	ProviderPermissionDenied Code = "provider_permission_denied"
	// ProviderConnectionDisabled — the connection was disabled by an operator.
	ProviderConnectionDisabled Code = "provider_connection_disabled"
	// GraphThrottled — Graph kept answering 429 after the bounded retries.
	GraphThrottled Code = "graph_throttled"
	// GraphUnavailable — Graph kept answering 503/504 after the bounded retries.
	GraphUnavailable Code = "graph_unavailable"
	// GraphTimeout — a Graph request did not answer in time.
	GraphTimeout Code = "graph_timeout"
	// GraphRequestFailed — Graph rejected a request (other 4xx/5xx).
	GraphRequestFailed Code = "graph_request_failed"
	// GraphContractMissing — the object type or endpoint is not in the Graph
	// contract registry, so no call was made (fail safe).
	GraphContractMissing Code = "graph_contract_missing"
	// RunContextMissing — a job arrived without a valid run or run context.
	RunContextMissing Code = "run_context_missing"
	// WorkerLost — the worker running the run stopped sending heartbeats.
	WorkerLost Code = "worker_lost"
	// StaleQueuedTimeout — no worker picked the queued run up in time.
	StaleQueuedTimeout Code = "stale_queued_timeout"
	// DispatchFailed — the run's job could not be enqueued.
	DispatchFailed Code = "dispatch_failed"
	// InternalError — a bug or unexpected condition inside TenantAtlas.
	InternalError Code = "internal_error"
	// ValidationFailed — the run's input or preconditions were invalid when it ran.
	ValidationFailed Code = "validation_failed"
	// ItemFailed — one item of a multi-item run failed (per-item failure entry).
	ItemFailed Code = "item_failed"
	// Cancelled — the run was cancelled.
	Cancelled Code = "cancelled"
	// ScopeBusy — another provider-backed run holds the same protected scope.
	ScopeBusy Code = "scope_busy"
	// PermissionDenied — the initiator lacks the capability to start the run.
	PermissionDenied Code = "permission_denied"
	// UnknownError — a failure without a known code (unknown codes map here).
	UnknownError Code = "unknown_error"
	// DriftBaselineMissing — drift needs two successful inventory snapshots of the
	// tenant and there are fewer (start gate: the run is recorded as blocked).
	DriftBaselineMissing Code = "drift_baseline_missing"
	// OperationTypeUnavailable — no worker of this deployment runs the type, so
	// the start gate refuses it (422, nothing recorded).
	OperationTypeUnavailable Code = "operation_type_unavailable"
	// StartSurfaceNotAllowed — the type is started from its own page or by the
	// scheduler, not from the hub's start form or the generic API (422, nothing recorded).
	StartSurfaceNotAllowed Code = "start_surface_not_allowed"
)

// reasonText is the operator-facing text of a reason code.
type reasonText struct{ label, next string }

// reasonOrder lists the codes in documentation order.
var reasonOrder = []Code{
	ProviderConnectionMissing, ProviderConnectionInvalid, ProviderConsentMissing,
	ProviderPermissionDenied, ProviderConnectionDisabled,
	GraphThrottled, GraphUnavailable, GraphTimeout, GraphRequestFailed,
	GraphContractMissing,
	RunContextMissing, WorkerLost, StaleQueuedTimeout, DispatchFailed,
	InternalError, ValidationFailed, ItemFailed, Cancelled,
	ScopeBusy, PermissionDenied, UnknownError, DriftBaselineMissing,
	OperationTypeUnavailable, StartSurfaceNotAllowed,
}

// reasons holds the label and next step of every known code.
var reasons = map[Code]reasonText{
	ProviderConnectionMissing: {"No provider connection",
		"Add a provider connection for this tenant, then start the operation again."},
	ProviderConnectionInvalid: {"Provider connection invalid",
		"Check the provider connection's tenant, app ID and credentials, then verify it again."},
	ProviderConsentMissing: {"Admin consent missing",
		"Ask a tenant administrator to grant admin consent, then verify the connection."},
	ProviderPermissionDenied: {"Graph permission missing",
		"Grant the missing Microsoft Graph permission to the app and re-consent, then verify the connection."},
	ProviderConnectionDisabled: {"Provider connection disabled",
		"Enable the provider connection or choose another one."},
	GraphThrottled: {"Microsoft Graph throttled",
		"Wait a few minutes, then start the operation again."},
	GraphUnavailable: {"Microsoft Graph unavailable",
		"Check the Microsoft 365 service health, then start the operation again."},
	GraphTimeout: {"Microsoft Graph timed out",
		"Start the operation again; if it keeps timing out, check the service health."},
	GraphRequestFailed: {"Microsoft Graph request failed",
		"Read the failure message; fix the object or permission it names, then start again."},
	GraphContractMissing: {"Unsupported object type",
		"This object type is not supported yet; no change was made. Contact support if you need it."},
	RunContextMissing: {"Run context missing",
		"Start the operation again from its page; report it if it happens again."},
	WorkerLost: {"Worker stopped",
		"Start the operation again; check the workers' health if it happens again."},
	StaleQueuedTimeout: {"Never picked up",
		"Check that workers are running, then start the operation again."},
	DispatchFailed: {"Could not be queued",
		"Start the operation again in a moment; check the database and workers if it persists."},
	InternalError: {"Internal error",
		"Start the operation again; report the run ID to support if it fails again."},
	ValidationFailed: {"Invalid input",
		"Correct the input or preconditions named in the message, then start again."},
	ItemFailed: {"Item failed",
		"Review the failed items; fix them and run the operation again."},
	Cancelled: {"Cancelled",
		"Start the operation again if it is still needed."},
	ScopeBusy: {"Another operation is running",
		"Wait for the running operation on this tenant and connection to finish, then start again."},
	PermissionDenied: {"Not allowed",
		"Ask a workspace owner for the capability this operation requires."},
	UnknownError: {"Unknown error",
		"Start the operation again; report the run ID to support if it fails again."},
	DriftBaselineMissing: {"Inventory baseline missing",
		"Run an inventory sync (twice, if the tenant has none yet), then generate drift again."},
	OperationTypeUnavailable: {"Operation not available",
		"No worker of this deployment runs this operation yet; start one the hub's start form offers."},
	StartSurfaceNotAllowed: {"Started from its own page",
		"Start this operation from its own page (or let its schedule start it)."},
}

// Codes returns every known reason code in documentation order (a fresh slice).
func Codes() []Code { return append([]Code(nil), reasonOrder...) }

// Known reports whether r is one of the documented reason codes.
func (r Code) Known() bool {
	_, ok := reasons[r]
	return ok
}

// Info returns the operator-facing short label and next-step hint of r; an
// unknown code gets the texts of UnknownError.
func Info(r Code) (label, nextStep string) {
	t, ok := reasons[r]
	if !ok {
		t = reasons[UnknownError]
	}
	return t.label, t.next
}
