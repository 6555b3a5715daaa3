package operations

// The stable reason codes. They are stored in events and shown to operators, so a code
// is never renamed or reused; specs/002-operation-runs/reason-codes.md documents each.
const (
	// ReasonProviderConnectionMissing — the tenant has no provider connection to use.
	ReasonProviderConnectionMissing ReasonCode = "provider_connection_missing"
	// ReasonProviderConnectionInvalid — the connection is unusable (wrong tenant, bad
	// credentials, unknown state).
	ReasonProviderConnectionInvalid ReasonCode = "provider_connection_invalid"
	// ReasonProviderConsentMissing — admin consent has not been granted for the app.
	ReasonProviderConsentMissing ReasonCode = "provider_consent_missing"
	// ReasonProviderPermissionDenied — the app lacks a Microsoft Graph permission.
	ReasonProviderPermissionDenied ReasonCode = "provider_permission_denied"
	// ReasonProviderConnectionDisabled — the connection was disabled by an operator.
	ReasonProviderConnectionDisabled ReasonCode = "provider_connection_disabled"
	// ReasonGraphThrottled — Graph kept answering 429 after the bounded retries.
	ReasonGraphThrottled ReasonCode = "graph_throttled"
	// ReasonGraphUnavailable — Graph kept answering 503/504 after the bounded retries.
	ReasonGraphUnavailable ReasonCode = "graph_unavailable"
	// ReasonGraphTimeout — a Graph request did not answer in time.
	ReasonGraphTimeout ReasonCode = "graph_timeout"
	// ReasonGraphRequestFailed — Graph rejected a request (other 4xx/5xx).
	ReasonGraphRequestFailed ReasonCode = "graph_request_failed"
	// ReasonGraphContractMissing — the object type or endpoint is not in the Graph
	// contract registry, so no call was made (fail safe).
	ReasonGraphContractMissing ReasonCode = "graph_contract_missing"
	// ReasonRunContextMissing — a job arrived without a valid run or run context.
	ReasonRunContextMissing ReasonCode = "run_context_missing"
	// ReasonWorkerLost — the worker running the run stopped sending heartbeats.
	ReasonWorkerLost ReasonCode = "worker_lost"
	// ReasonStaleQueuedTimeout — no worker picked the queued run up in time.
	ReasonStaleQueuedTimeout ReasonCode = "stale_queued_timeout"
	// ReasonDispatchFailed — the run's job could not be enqueued.
	ReasonDispatchFailed ReasonCode = "dispatch_failed"
	// ReasonInternalError — a bug or unexpected condition inside TenantAtlas.
	ReasonInternalError ReasonCode = "internal_error"
	// ReasonValidationFailed — the run's input or preconditions were invalid when it ran.
	ReasonValidationFailed ReasonCode = "validation_failed"
	// ReasonItemFailed — one item of a multi-item run failed (per-item failure entry).
	ReasonItemFailed ReasonCode = "item_failed"
	// ReasonCancelled — the run was cancelled.
	ReasonCancelled ReasonCode = "cancelled"
	// ReasonScopeBusy — another provider-backed run holds the same protected scope.
	ReasonScopeBusy ReasonCode = "scope_busy"
	// ReasonPermissionDenied — the initiator lacks the capability to start the run.
	ReasonPermissionDenied ReasonCode = "permission_denied"
	// ReasonUnknownError — a failure without a known code (unknown codes map here).
	ReasonUnknownError ReasonCode = "unknown_error"
	// ReasonDriftBaselineMissing — drift needs two successful inventory snapshots of the
	// tenant and there are fewer (start gate: the run is recorded as blocked).
	ReasonDriftBaselineMissing ReasonCode = "drift_baseline_missing"
	// ReasonOperationTypeUnavailable — no worker of this deployment runs the type, so
	// the start gate refuses it (422, nothing recorded).
	ReasonOperationTypeUnavailable ReasonCode = "operation_type_unavailable"
	// ReasonStartSurfaceNotAllowed — the type is started from its own page or by the
	// scheduler, not from the hub's start form or the generic API (422, nothing recorded).
	ReasonStartSurfaceNotAllowed ReasonCode = "start_surface_not_allowed"
)

// reasonText is the operator-facing text of a reason code.
type reasonText struct{ label, next string }

// reasonOrder lists the codes in documentation order.
var reasonOrder = []ReasonCode{
	ReasonProviderConnectionMissing, ReasonProviderConnectionInvalid, ReasonProviderConsentMissing,
	ReasonProviderPermissionDenied, ReasonProviderConnectionDisabled,
	ReasonGraphThrottled, ReasonGraphUnavailable, ReasonGraphTimeout, ReasonGraphRequestFailed,
	ReasonGraphContractMissing,
	ReasonRunContextMissing, ReasonWorkerLost, ReasonStaleQueuedTimeout, ReasonDispatchFailed,
	ReasonInternalError, ReasonValidationFailed, ReasonItemFailed, ReasonCancelled,
	ReasonScopeBusy, ReasonPermissionDenied, ReasonUnknownError, ReasonDriftBaselineMissing,
	ReasonOperationTypeUnavailable, ReasonStartSurfaceNotAllowed,
}

// reasons holds the label and next step of every known code.
var reasons = map[ReasonCode]reasonText{
	ReasonProviderConnectionMissing: {"No provider connection",
		"Add a provider connection for this tenant, then start the operation again."},
	ReasonProviderConnectionInvalid: {"Provider connection invalid",
		"Check the provider connection's tenant, app ID and credentials, then verify it again."},
	ReasonProviderConsentMissing: {"Admin consent missing",
		"Ask a tenant administrator to grant admin consent, then verify the connection."},
	ReasonProviderPermissionDenied: {"Graph permission missing",
		"Grant the missing Microsoft Graph permission to the app and re-consent, then verify the connection."},
	ReasonProviderConnectionDisabled: {"Provider connection disabled",
		"Enable the provider connection or choose another one."},
	ReasonGraphThrottled: {"Microsoft Graph throttled",
		"Wait a few minutes, then start the operation again."},
	ReasonGraphUnavailable: {"Microsoft Graph unavailable",
		"Check the Microsoft 365 service health, then start the operation again."},
	ReasonGraphTimeout: {"Microsoft Graph timed out",
		"Start the operation again; if it keeps timing out, check the service health."},
	ReasonGraphRequestFailed: {"Microsoft Graph request failed",
		"Read the failure message; fix the object or permission it names, then start again."},
	ReasonGraphContractMissing: {"Unsupported object type",
		"This object type is not supported yet; no change was made. Contact support if you need it."},
	ReasonRunContextMissing: {"Run context missing",
		"Start the operation again from its page; report it if it happens again."},
	ReasonWorkerLost: {"Worker stopped",
		"Start the operation again; check the workers' health if it happens again."},
	ReasonStaleQueuedTimeout: {"Never picked up",
		"Check that workers are running, then start the operation again."},
	ReasonDispatchFailed: {"Could not be queued",
		"Start the operation again in a moment; check the database and workers if it persists."},
	ReasonInternalError: {"Internal error",
		"Start the operation again; report the run ID to support if it fails again."},
	ReasonValidationFailed: {"Invalid input",
		"Correct the input or preconditions named in the message, then start again."},
	ReasonItemFailed: {"Item failed",
		"Review the failed items; fix them and run the operation again."},
	ReasonCancelled: {"Cancelled",
		"Start the operation again if it is still needed."},
	ReasonScopeBusy: {"Another operation is running",
		"Wait for the running operation on this tenant and connection to finish, then start again."},
	ReasonPermissionDenied: {"Not allowed",
		"Ask a workspace owner for the capability this operation requires."},
	ReasonUnknownError: {"Unknown error",
		"Start the operation again; report the run ID to support if it fails again."},
	ReasonDriftBaselineMissing: {"Inventory baseline missing",
		"Run an inventory sync (twice, if the tenant has none yet), then generate drift again."},
	ReasonOperationTypeUnavailable: {"Operation not available",
		"No worker of this deployment runs this operation yet; start one the hub's start form offers."},
	ReasonStartSurfaceNotAllowed: {"Started from its own page",
		"Start this operation from its own page (or let its schedule start it)."},
}

// ReasonCodes returns every known reason code in documentation order (a fresh slice).
func ReasonCodes() []ReasonCode { return append([]ReasonCode(nil), reasonOrder...) }

// Known reports whether r is one of the documented reason codes.
func (r ReasonCode) Known() bool {
	_, ok := reasons[r]
	return ok
}

// ReasonInfo returns the operator-facing short label and next-step hint of r; an
// unknown code gets the texts of ReasonUnknownError.
func ReasonInfo(r ReasonCode) (label, nextStep string) {
	t, ok := reasons[r]
	if !ok {
		t = reasons[ReasonUnknownError]
	}
	return t.label, t.next
}
