package operations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// StartStatus is the start gate's answer to one start, like Status is a run's.
type StartStatus string

// The four start outcomes (spec 216).
const (
	StartAccepted  StartStatus = "accepted"
	StartDeduped   StartStatus = "deduped"
	StartScopeBusy StartStatus = "scope_busy"
	StartBlocked   StartStatus = "blocked"
)

// maxContextBytes bounds a start context.
const maxContextBytes = 16 << 10

// StartRequest is one attempt to start a run, from any surface.
type StartRequest struct {
	// Type is the run type (catalog).
	Type string
	// TenantID is the target tenant (tenant-scoped types).
	TenantID uuid.UUID
	// WorkspaceID is the target workspace (workspace-scoped types).
	WorkspaceID uuid.UUID
	// Context is the type's input: a JSON object (null or empty means {}).
	Context json.RawMessage
	// ProviderConnectionID picks a connection; uuid.Nil means the tenant's default.
	ProviderConnectionID uuid.UUID
	// Initiator is who starts it; a "user" initiator is authorized here.
	Initiator Initiator
	// SourceSurface is where the start came from: "api", "web", "scheduler", "cli".
	SourceSurface string
	// Nonce identifies one click of a run-now/retry button; empty means a fresh one.
	Nonce string
	// ScheduleID and ScheduledFor identify a scheduled run (IdentityScheduled types).
	ScheduleID   uuid.UUID
	ScheduledFor time.Time
}

// RunRef points at a run.
type RunRef struct {
	ID     uuid.UUID `json:"id"`
	URL    string    `json:"url"`
	Status Status    `json:"status"`
}

// StartOutcome is the gate's answer, the same for every surface.
type StartOutcome struct {
	Status          StartStatus `json:"status"`
	OperationType   string      `json:"operationType"`
	OperatorMessage string      `json:"operatorMessage"`
	ShortReason     string      `json:"shortReason"`
	ReasonCode      ReasonCode  `json:"reasonCode,omitempty"`
	Run             *RunRef     `json:"run"`
	NextSteps       []NextStep  `json:"nextSteps"`
	// OperatorVerb, OperatorTarget, ProviderConnection and Actions complete the
	// ProviderStartOutcome of spec 216 (outcome.go fills them for every start).
	OperatorVerb       string         `json:"operatorVerb"`
	OperatorTarget     string         `json:"operatorTarget"`
	ProviderConnection *ConnectionRef `json:"providerConnection"`
	Actions            []ActionLink   `json:"actions"`
}

// Job is the dispatch message of an accepted run.
type Job struct {
	RunID uuid.UUID `json:"runId"`
	Type  string    `json:"type"`
}

// Dispatcher enqueues a job in the transaction that appends RunQueued, by queueing it
// on that transaction's batch.
type Dispatcher interface {
	// QueueDispatch queues job on b.
	QueueDispatch(ctx context.Context, b *eventstore.Batch, job Job) error
}

// Precondition is a run type's own start check, asked by the gate after the provider
// connection: a *RunError blocks the start with its reason code and message (a run
// recorded as blocked, nothing dispatched); an error fails the start.
type Precondition func(ctx context.Context, req StartRequest) (*RunError, error)

// ConnectionCheck is the start gate's check of the connection a provider-backed start
// would use, asked once the connection's status allows the start: a *RunError blocks
// the start with its reason code and message (recorded as blocked, nothing dispatched).
// It sees the connection as stored and never does remote work.
type ConnectionCheck func(ctx context.Context, conn tenancy.ProviderConnection) *RunError

// CheckConnections registers the gate's connection check. Registering twice panics.
func (s *Service) CheckConnections(c ConnectionCheck) {
	if s.connCheck != nil {
		panic("operations: CheckConnections: two connection checks")
	}
	s.connCheck = c
}

// ContextValidator checks a run type's start context (canonical JSON); an error makes
// the start fail with ErrInvalidContext (422) and nothing is recorded.
type ContextValidator func(ctxJSON json.RawMessage) error

// Precondition registers the start precondition of a run type. Registering twice panics.
func (s *Service) Precondition(runType string, p Precondition) {
	registerOnce(s.preconditions, "Precondition", "preconditions", runType, p)
}

// ValidateContext registers the context validator of a run type. Registering twice panics.
func (s *Service) ValidateContext(runType string, v ContextValidator) {
	registerOnce(s.validators, "ValidateContext", "validators", runType, v)
}

// registerOnce sets m[runType] to v for the registration function fn; an unknown run
// type or a second registration (of what) for the type panics.
func registerOnce[T any](m map[string]T, fn, what, runType string, v T) {
	if _, ok := LookupType(runType); !ok {
		panic("operations: " + fn + ": unknown run type " + runType)
	}
	if _, dup := m[runType]; dup {
		panic("operations: " + fn + ": two " + what + " for " + runType)
	}
	m[runType] = v
}

// gate is the start gate behind Start: it authorizes a user initiator (ErrNotFound /
// ErrForbidden: nothing is created), validates the request (ErrUnknownType /
// ErrInvalidContext) and answers accepted, deduped, scope_busy or blocked. It never
// does remote work.
func (s *Service) gate(ctx context.Context, req StartRequest) (StartOutcome, error) {
	// A type no worker runs is refused first (ErrTypeUnavailable), like an unknown one:
	// nothing is recorded (no run, no event, no audit entry), no tenant is looked up.
	if _, known := LookupType(req.Type); known && !s.Runnable(req.Type) {
		return StartOutcome{}, fmt.Errorf("%w: %s", ErrTypeUnavailable, req.Type)
	}
	info, ok := LookupType(req.Type)
	if !ok {
		return StartOutcome{}, fmt.Errorf("%w: %q", ErrUnknownType, req.Type)
	}
	ctxJSON, err := normalizeContext(req.Context)
	if err != nil {
		return StartOutcome{}, err
	}
	if err := info.Context.Check(ctxJSON); err != nil {
		return StartOutcome{}, fmt.Errorf("%w: %w", ErrInvalidContext, err)
	}
	if v := s.validators[info.Type]; v != nil {
		if err := v(ctxJSON); err != nil {
			return StartOutcome{}, fmt.Errorf("%w: %w", ErrInvalidContext, err)
		}
	}
	folded := s.foldsAuthorization(info, &req)
	if !folded {
		if err := s.authorizeStart(ctx, info, &req); err != nil {
			return StartOutcome{}, err
		}
	}
	// A nonce the gate makes now is new: no run can hold its identity yet.
	fresh := false
	if info.Identity == IdentityNonce && req.Nonce == "" {
		req.Nonce, fresh = uuid.NewString(), true
	}
	if info.Identity == IdentityScheduled && (req.ScheduleID == uuid.Nil || req.ScheduledFor.IsZero()) {
		return StartOutcome{}, fmt.Errorf("%w: a scheduled run needs a schedule id and a scheduled-for time", ErrInvalidContext)
	}
	a := &admission{info: info, req: req, ctxJSON: ctxJSON, identity: identityHash(info, req, ctxJSON), folded: folded}

	// An active run with this identity answers at once, before the connection is
	// looked at (a deduped start is not "blocked" because the connection broke since).
	// Other types find their duplicate in the insert itself, one round trip less, and so
	// does a start whose nonce the gate has just made (nothing can hold it).
	if (info.ProviderBacked || info.Identity.Permanent()) && !fresh {
		if out, found, err := s.findDuplicate(ctx, a); err != nil {
			return out, err
		} else if found {
			return s.auditAnswered(ctx, a, out)
		}
	}

	if info.ProviderBacked {
		conn, reason, msg, err := s.resolveConnection(ctx, info, req)
		if err != nil {
			return StartOutcome{}, err
		}
		if reason == "" && s.connCheck != nil {
			if re := s.connCheck(ctx, conn); re != nil {
				reason, msg = re.Code, re.Message
			}
		}
		a.connID = conn.ID
		if reason != "" {
			return s.block(ctx, a, reason, msg)
		}
	}
	if p := s.preconditions[info.Type]; p != nil {
		a.req.ProviderConnectionID = a.connID
		re, err := p(ctx, a.req)
		if err != nil {
			return StartOutcome{}, fmt.Errorf("operations: precondition of %s: %w", info.Type, err)
		}
		if re != nil {
			return s.block(ctx, a, re.Code, re.Message)
		}
	}
	return s.admit(ctx, a)
}

// foldsAuthorization reports whether a start's authorization is decided in the start's
// own transaction instead of by a query before it, one round trip less: a statement of
// tenancy.RequireWorkspace or RequireTenant runs first in the transaction, and a refusal
// rolls it back and sends the start through authorizeStart, which answers the exact
// denial (404 or 403) and audits it, as a start that was never folded. It prepares req as
// authorizeStart would (the workspace of a tenant-scoped start, known from an earlier
// authorized start of the tenant and checked again by RequireTenant; no tenant for a
// workspace-scoped one).
//
// Only a user's start that goes straight to its transaction folds: nothing may be read
// or answered for it before it is authorized, so not one looking for its duplicate first
// (a permanent identity other than a nonce the gate makes), not a provider-backed one (its
// connection), not one with a precondition, and none while group commit is on (a group
// is written for authorized starts).
func (s *Service) foldsAuthorization(info TypeInfo, req *StartRequest) bool {
	switch {
	case req.Initiator.Kind != "user" || req.Initiator.UserID == uuid.Nil,
		info.ProviderBacked, s.preconditions[info.Type] != nil, s.opts.GroupCommit,
		info.Identity.Permanent() && (info.Identity != IdentityNonce || req.Nonce != ""):
		return false
	case info.WorkspaceScoped:
		if req.WorkspaceID == uuid.Nil {
			return false // authorizeStart refuses it
		}
		req.TenantID = uuid.Nil
		return true
	}
	ws, ok := s.tenantWorkspaces.Load(req.TenantID)
	if !ok {
		return false
	}
	req.WorkspaceID = ws.(uuid.UUID)
	return true
}

// requireSQL is the statement that authorizes a folded start in its transaction.
func (a *admission) requireSQL() (string, []any, error) {
	if a.info.WorkspaceScoped {
		return tenancy.RequireWorkspace(a.req.Initiator.UserID, a.req.WorkspaceID, a.info.StartCapability)
	}
	return tenancy.RequireTenant(a.req.Initiator.UserID, a.req.WorkspaceID, a.req.TenantID, a.info.StartCapability)
}

// unfold authorizes a folded start with authorizeStart (the exact denial, audited, or
// nil) before it writes anything outside its folded transaction, and derives its
// identity again from the workspace authorizeStart found.
func (s *Service) unfold(ctx context.Context, a *admission) error {
	if !a.folded {
		return nil
	}
	if err := s.authorizeStart(ctx, a.info, &a.req); err != nil {
		return err
	}
	a.folded, a.identity = false, identityHash(a.info, a.req, a.ctxJSON)
	return nil
}

func (s *Service) authorizeStart(ctx context.Context, info TypeInfo, req *StartRequest) error {
	user := req.Initiator.Kind == "user"
	var dec tenancy.Decision
	var err error
	switch {
	case req.Initiator.Kind == "platform":
		return s.authorizePlatform(ctx, info, req)
	case info.WorkspaceScoped:
		if req.WorkspaceID == uuid.Nil {
			return fmt.Errorf("%w: %s needs a workspace", ErrInvalidContext, info.Type)
		}
		req.TenantID = uuid.Nil
		dec = tenancy.Allowed
		if user {
			dec, err = s.tenancy.AuthorizeWorkspace(ctx, req.Initiator.UserID, req.WorkspaceID, info.StartCapability)
		}
	case user:
		// One query answers membership, capability and the tenant's workspace.
		var t tenancy.Tenant
		t, dec, err = s.tenancy.Authorize(ctx, req.Initiator.UserID, req.TenantID, info.StartCapability)
		req.WorkspaceID = t.WorkspaceID
		if err == nil && dec == tenancy.Allowed {
			// A tenant never changes workspace; a later start of the tenant folds its
			// authorization (foldsAuthorization), and RequireTenant checks it anyway.
			s.tenantWorkspaces.Store(req.TenantID, t.WorkspaceID)
		}
	default:
		var t tenancy.Tenant
		t, err = s.tenancy.Tenant(ctx, req.TenantID)
		if errors.Is(err, tenancy.ErrNotFound) {
			return ErrNotFound
		}
		dec, req.WorkspaceID = tenancy.Allowed, t.WorkspaceID
	}
	if err != nil {
		return fmt.Errorf("operations: authorize: %w", err)
	}
	switch dec {
	case tenancy.Allowed:
		return nil
	case tenancy.Forbidden:
		// A member tried and was refused: that is worth an audit entry.
		if err := s.auditDenied(ctx, info, *req, string(ReasonPermissionDenied)); err != nil {
			return err
		}
		return ErrForbidden
	default:
		if user { // a user probing a tenant (or workspace) that is not theirs
			if err := s.auditDenied(ctx, info, *req, DeniedNotFound); err != nil {
				return err
			}
		}
		return ErrNotFound
	}
}

// Audit outcomes and reasons of start attempts (action AuditActionStart); the outcomes
// accepted, deduped, scope_busy and blocked are the StartStatus values.
const (
	// AuditActionStart is the audit action of every start attempt.
	AuditActionStart = "operation.start"
	// AuditDenied is the outcome of a start the initiator may not make.
	AuditDenied = "denied"
	// DeniedNotFound is the reason of a denied start on a tenant or workspace the user
	// is not a member of, or that does not exist (the answer is 404).
	DeniedNotFound = "not_found"
)

// auditDenied records a refused user's start attempt (reason permission_denied or
// not_found), at most audit.DeniedLimit a window per user: a client repeating refused
// starts cannot flood the log.
func (s *Service) auditDenied(ctx context.Context, info TypeInfo, req StartRequest, reason string) error {
	actor := "user:" + req.Initiator.UserID.String()
	e := audit.AuditRecorded{Action: AuditActionStart, Outcome: AuditDenied,
		Actor: actor, WorkspaceID: req.WorkspaceID, TenantID: req.TenantID,
		Target: "type:" + info.Type, IP: req.Initiator.IP, UserAgent: req.Initiator.UserAgent, Reason: reason}
	if reason == DeniedNotFound {
		// Nothing about a tenant the user cannot see goes into the entry's scope; the
		// tenant asked for is the target.
		e.WorkspaceID, e.TenantID = uuid.Nil, uuid.Nil
		e.Target = "tenant:" + req.TenantID.String() + "/type:" + info.Type
		if info.WorkspaceScoped {
			e.Target = "workspace:" + req.WorkspaceID.String() + "/type:" + info.Type
		}
	}
	_, err := s.audit.RecordLimited(ctx, actor+"|"+AuditActionStart+"|"+AuditDenied, e)
	return err
}

// startEntry is the audit entry of a start that got past authorization, with outcome
// and target (the run it made, or the run holding its identity or scope).
func (a *admission) startEntry(outcome StartStatus, runID uuid.UUID, reason ReasonCode) audit.AuditRecorded {
	return audit.AuditRecorded{Action: AuditActionStart, Outcome: string(outcome), Actor: a.actor(),
		WorkspaceID: a.req.WorkspaceID, TenantID: a.req.TenantID, Target: "run:" + runID.String(),
		IP: a.req.Initiator.IP, UserAgent: a.req.Initiator.UserAgent, Reason: string(reason)}
}

// runAfter is the After of a start that made a run: its type, status and outcome.
func (a *admission) runAfter(status Status, outcome Outcome) json.RawMessage {
	b, _ := json.Marshal(struct { // strings only: cannot fail
		Type    string  `json:"type"`
		Status  Status  `json:"status"`
		Outcome Outcome `json:"outcome"`
	}{a.info.Type, status, outcome})
	return b
}

// auditAnswered records a start answered with an existing run (deduped, scope_busy), in
// a transaction of its own (nothing else is written for it).
func (s *Service) auditAnswered(ctx context.Context, a *admission, out StartOutcome) (StartOutcome, error) {
	e := a.startEntry(out.Status, out.Run.ID, out.ReasonCode)
	if err := s.audit.Record(ctx, e); err != nil {
		return StartOutcome{}, fmt.Errorf("operations: audit %s start: %w", out.Status, err)
	}
	return out, nil
}

// authorizePlatform authorizes a platform initiator (a /system user): only a
// workspace-scoped type with a platform capability, only an enabled platform user with
// platform.runbooks.run and that capability (ErrForbidden, audited, otherwise; an unknown
// platform user or workspace is ErrNotFound). Workspace membership plays no part: the
// hub's authorization is untouched. The initiator's name and break-glass flag are set
// from the stored user.
func (s *Service) authorizePlatform(ctx context.Context, info TypeInfo, req *StartRequest) error {
	pu, err := s.tenancy.PlatformUser(ctx, req.Initiator.UserID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("operations: authorize platform user: %w", err)
	}
	req.Initiator.Name, req.Initiator.BreakGlass = pu.Email, pu.BreakGlass
	if info.WorkspaceScoped {
		if req.WorkspaceID == uuid.Nil {
			return fmt.Errorf("%w: %s needs a workspace", ErrInvalidContext, info.Type)
		}
		if _, err := s.tenancy.Workspace(ctx, req.WorkspaceID); errors.Is(err, tenancy.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("operations: authorize platform user: %w", err)
		}
		req.TenantID = uuid.Nil
	}
	if info.WorkspaceScoped && info.PlatformCapability != "" && !pu.Disabled &&
		pu.Can(tenancy.PlatformRunbooksRun) && pu.Can(info.PlatformCapability) {
		return nil
	}
	if err := s.audit.Record(ctx, audit.AuditRecorded{Action: "operation.start", Outcome: "denied",
		Actor: string(tenancy.PlatformActor(pu.ID)), WorkspaceID: req.WorkspaceID, TenantID: req.TenantID,
		Target: info.Type, IP: req.Initiator.IP, UserAgent: req.Initiator.UserAgent,
		Reason: string(ReasonPermissionDenied)}); err != nil {
		return err
	}
	return ErrForbidden
}

// normalizeContext checks the context is a JSON object and returns its canonical form
// (keys sorted, no insignificant space), so equal contexts hash equally.
func normalizeContext(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if len(raw) > maxContextBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidContext, maxContextBytes)
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: must be a JSON object", ErrInvalidContext)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) { // More misses a stray ] or }
		return nil, fmt.Errorf("%w: must be a single JSON object", ErrInvalidContext)
	}
	canon, err := json.Marshal(obj) // encoding/json sorts map keys
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidContext, err)
	}
	return canon, nil
}

// identityHash derives the dedupe identity of a start from its type's rule.
func identityHash(info TypeInfo, req StartRequest, ctxJSON json.RawMessage) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", info.Type, req.WorkspaceID, req.TenantID)
	switch info.Identity {
	case IdentityScheduled:
		fmt.Fprintf(h, "schedule\x00%s\x00%s", req.ScheduleID, req.ScheduledFor.UTC().Format(time.RFC3339Nano))
	case IdentityNonce:
		h.Write(ctxJSON)
		fmt.Fprintf(h, "\x00nonce\x00%s", req.Nonce)
	default:
		h.Write(ctxJSON)
	}
	if req.ProviderConnectionID != uuid.Nil && info.ProviderBacked && info.Identity != IdentityScheduled {
		// A provider-backed start naming its connection (a connection page's button, the
		// API's providerConnectionId) is a start on that connection: verifying connection
		// B is not a duplicate of verifying A. Starts on the default hash as before, and a
		// type that uses no connection ignores the field (it cannot dodge dedupe with it).
		fmt.Fprintf(h, "\x00connection\x00%s", req.ProviderConnectionID)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// findDuplicate looks for the run that already holds a's identity (active, or forever for
// scheduled and per-click identities).
func (s *Service) findDuplicate(ctx context.Context, a *admission) (StartOutcome, bool, error) {
	q := `SELECT run_id, status FROM ops_runs WHERE identity_hash = $1 AND status IN ('queued', 'running')`
	if a.info.Identity.Permanent() {
		q = `SELECT r.run_id, r.status FROM ops_permanent_identities p JOIN ops_runs r USING (run_id) WHERE p.identity_hash = $1`
	}
	var id uuid.UUID
	var status string
	err := s.pool.QueryRow(ctx, q, a.identity).Scan(&id, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return StartOutcome{}, false, nil
	}
	if err != nil {
		return StartOutcome{}, false, fmt.Errorf("operations: dedupe lookup: %w", err)
	}
	return a.deduped(id, Status(status)), true, nil
}

// deduped answers a start whose identity run id holds.
func (a *admission) deduped(id uuid.UUID, status Status) StartOutcome {
	msg := fmt.Sprintf("%s is already %s for this scope; no new run was started.", a.info.Label, status)
	if status == StatusCompleted {
		msg = fmt.Sprintf("%s already ran for this schedule slot; no new run was started.", a.info.Label)
		if a.info.Identity == IdentityNonce {
			msg = fmt.Sprintf("%s already ran for this click; no new run was started.", a.info.Label)
		}
	}
	return StartOutcome{Status: StartDeduped, OperationType: a.info.Type, OperatorMessage: msg,
		ShortReason: "Already " + string(status), Run: &RunRef{ID: id, URL: RunURL(id), Status: status},
		NextSteps: []NextStep{{Label: "View run", Href: RunURL(id)}}}
}

// resolveConnection finds the provider connection of a provider-backed start and says
// why it cannot be used, if it cannot.
func (s *Service) resolveConnection(ctx context.Context, info TypeInfo, req StartRequest) (tenancy.ProviderConnection, ReasonCode, string, error) {
	var conn tenancy.ProviderConnection
	var err error
	if req.ProviderConnectionID != uuid.Nil {
		conn, err = s.tenancy.Connection(ctx, req.ProviderConnectionID)
		if errors.Is(err, tenancy.ErrNotFound) || (err == nil && conn.TenantID != req.TenantID) {
			return tenancy.ProviderConnection{}, ReasonProviderConnectionInvalid, "The selected provider connection does not belong to this tenant.", nil
		}
	} else {
		conn, err = s.tenancy.DefaultConnection(ctx, req.TenantID)
		if errors.Is(err, tenancy.ErrNotFound) {
			return tenancy.ProviderConnection{}, ReasonProviderConnectionMissing, "This tenant has no provider connection.", nil
		}
	}
	if err != nil {
		return tenancy.ProviderConnection{}, "", "", fmt.Errorf("operations: provider connection: %w", err)
	}
	if info.ChecksConnection && conn.Status != tenancy.ConnectionDisabled {
		return conn, "", "", nil // the run finds out for itself
	}
	switch conn.Status {
	case tenancy.ConnectionOK:
		return conn, "", "", nil
	case tenancy.ConnectionConsentMissing:
		return conn, ReasonProviderConsentMissing, "Admin consent has not been granted for the provider connection.", nil
	case tenancy.ConnectionPermissionDenied:
		return conn, ReasonProviderPermissionDenied, "The provider connection lacks a required Microsoft Graph permission.", nil
	case tenancy.ConnectionInvalidCredentials:
		return conn, ReasonProviderConnectionInvalid, "Microsoft Graph refused the provider connection's app credentials.", nil
	case tenancy.ConnectionDisabled:
		return conn, ReasonProviderConnectionDisabled, "The provider connection is disabled.", nil
	default:
		return conn, ReasonProviderConnectionInvalid, "The provider connection is in an unknown state.", nil
	}
}

// admission is one start on its way through the gate, once it is valid and
// authorized: the type, the request (workspace and tenant resolved), the canonical
// context, the dedupe identity and the provider connection the run would use (uuid.Nil
// when it uses none). admit, block and dispatchFailed write a run from it.
type admission struct {
	info     TypeInfo
	req      StartRequest
	ctxJSON  json.RawMessage
	identity string
	connID   uuid.UUID
	// folded: the start's authorization is decided in its transaction
	// (foldsAuthorization).
	folded bool
}

// scope is the scope-lock key of a start, "" when it takes none: tenant + connection
// for a provider-backed start; workspace + type for a runbook whose context names a
// scope (RunbookLock), so a second fan-out over the workspace is scope_busy.
func (a *admission) scope() string {
	switch {
	case a.info.ProviderBacked:
		return "tenant:" + a.req.TenantID.String() + "/connection:" + a.connID.String()
	case a.info.RunbookLock && a.namesScope():
		return runbookScopePrefix + a.req.WorkspaceID.String() + "/runbook:" + a.info.Type
	}
	return ""
}

// runbookScopePrefix starts a runbook's scope-lock key.
const runbookScopePrefix = "workspace:"

// namesScope reports whether the start context has a non-empty "scope" field.
func (a *admission) namesScope() bool {
	var c struct {
		Scope string `json:"scope"`
	}
	return json.Unmarshal(a.ctxJSON, &c) == nil && c.Scope != ""
}

// insertRun is the one INSERT of a run's ops_runs row: queued (completedAt nil) or
// ended at the gate (completedAt set).
func (a *admission) insertRun(runID uuid.UUID, status Status, outcome Outcome, now time.Time, completedAt *time.Time) (string, []any) {
	return `INSERT INTO ops_runs (run_id, type, workspace_id, tenant_id, status, outcome, identity_hash, initiator_user_id, queued_at, completed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		[]any{runID, a.info.Type, a.req.WorkspaceID, nullID(a.req.TenantID), string(status), string(outcome),
			a.identity, nullID(a.req.Initiator.UserID), now, completedAt}
}

// nullID is id, or SQL NULL for uuid.Nil.
func nullID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// queued is the run's RunQueued.
func (a *admission) queued(runID uuid.UUID, at time.Time) RunQueued {
	return RunQueued{RunID: runID, Type: a.info.Type, WorkspaceID: a.req.WorkspaceID, TenantID: a.req.TenantID,
		Initiator: a.req.Initiator, IdentityHash: a.identity, Context: a.ctxJSON, SourceSurface: a.req.SourceSurface,
		ProviderConnectionID: a.connID, QueuedAt: at}
}

// meta is the metadata of the run's events written at the gate.
func (a *admission) meta(runID uuid.UUID) eventstore.Metadata {
	return eventstore.Metadata{Actor: a.actor(), WorkspaceID: a.req.WorkspaceID, TenantID: a.req.TenantID, CorrelationID: runID}
}

// actor is the start's initiator as an event actor ("user:<id>", "system:<name>").
func (a *admission) actor() string {
	if a.req.Initiator.UserID != uuid.Nil {
		return a.req.Initiator.Kind + ":" + a.req.Initiator.UserID.String()
	}
	return "system:" + a.req.Initiator.Name
}

// accepted answers an admitted start.
func (a *admission) accepted(runID uuid.UUID) StartOutcome {
	return StartOutcome{Status: StartAccepted, OperationType: a.info.Type,
		OperatorMessage: a.info.Label + " queued.", ShortReason: "Queued",
		Run:       &RunRef{ID: runID, URL: RunURL(runID), Status: StatusQueued},
		NextSteps: []NextStep{{Label: "View run", Href: RunURL(runID)}}}
}

// errRetryDedupe asks admit to look for the duplicate again (the holder ended between
// the conflict and the lookup).
var errRetryDedupe = errors.New("retry dedupe")

// errRetryStart asks admit to start again (a folded start authorized after its
// transaction was refused).
var errRetryStart = errors.New("retry start")

// admit queues a new run: the identity row (active dedupe, enforced by the unique index),
// the scope lock, RunQueued, the dispatch message and the initiator's notification, all
// in one transaction.
func (s *Service) admit(ctx context.Context, a *admission) (StartOutcome, error) {
	if a.groupable() && s.opts.GroupCommit {
		return s.admitGrouped(ctx, a)
	}
	return s.admitAlone(ctx, a)
}

// admitAlone admits a in a transaction of its own.
func (s *Service) admitAlone(ctx context.Context, a *admission) (StartOutcome, error) {
	for attempt := 0; ; attempt++ {
		out, err := s.admitOnce(ctx, a)
		if (errors.Is(err, errRetryDedupe) || errors.Is(err, errRetryStart)) && attempt < 5 {
			continue
		}
		return out, err
	}
}

func (s *Service) admitOnce(ctx context.Context, a *admission) (StartOutcome, error) {
	runID, err := uuid.NewV7()
	if err != nil {
		return StartOutcome{}, fmt.Errorf("operations: new run id: %w", err)
	}
	now := s.now().UTC()
	scope := a.scope()

	// The whole transaction goes to PostgreSQL in one round trip (BEGIN … COMMIT). The
	// database decides: a unique violation of the active-identity index (or of the
	// permanent identities) means deduped, of the scope lock means scope busy; either
	// rolls everything back.
	b := s.store.NewBatch()
	if a.folded { // before anything else: a refusal rolls back what follows
		q, args, err := a.requireSQL()
		if err != nil {
			return StartOutcome{}, fmt.Errorf("operations: %w", err)
		}
		b.Exec(q, args...)
	}
	if keys := a.admissionKeys(); len(keys) > 0 {
		b.Exec(lockKeysSQL, keys) // before anything writes: see order.go
	}
	q, args := a.insertRun(runID, StatusQueued, OutcomePending, now, nil)
	if a.info.Identity.Permanent() {
		// The permanent identity first, then the run, in one statement (the foreign key is
		// checked at its end): the order a group commit takes them in. In the other order
		// a start alone and a group taking the same identity deadlocked: the group held
		// the identity and waited on the active-identity index for the lone start's run,
		// which waited for the identity (TestPermanentStartAloneBesideAGroup).
		q = `WITH taken AS (INSERT INTO ops_permanent_identities (identity_hash, run_id) VALUES ($7, $1) RETURNING run_id)
		INSERT INTO ops_runs (run_id, type, workspace_id, tenant_id, status, outcome, identity_hash, initiator_user_id, queued_at, completed_at)
		SELECT run_id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM taken`
	}
	b.Exec(q, args...)
	if scope != "" {
		b.Exec(`INSERT INTO ops_scope_locks (scope_key, run_id) VALUES ($1, $2)`, scope, runID)
	}
	meta := a.meta(runID)
	evs := []eventstore.NewEvent{{Data: a.queued(runID, now), Metadata: meta}}
	note, notifies, err := queuedNotification(a.info, a.req, runID)
	if err != nil {
		return StartOutcome{}, err
	}
	if notifies {
		evs = append(evs, eventstore.NewEvent{Data: note, Metadata: meta})
	}
	if _, err := b.Append(ctx, RunStream(runID), eventstore.NoStream, evs...); err != nil {
		return StartOutcome{}, fmt.Errorf("operations: RunQueued: %w", err)
	}
	// The accepted start's audit entry rides in the same round trip and commits (or
	// rolls back, when the start turns out deduped or scope_busy) with the run.
	entry := a.startEntry(StartAccepted, runID, "")
	entry.After = a.runAfter(StatusQueued, OutcomePending)
	if err := s.audit.QueueBatch(ctx, b, entry); err != nil {
		return StartOutcome{}, fmt.Errorf("operations: %w", err)
	}
	if err := s.dispatch.QueueDispatch(ctx, b, Job{RunID: runID, Type: a.info.Type}); err != nil {
		if uerr := s.unfold(ctx, a); uerr != nil {
			return StartOutcome{}, uerr
		}
		return s.dispatchFailed(ctx, a, err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return StartOutcome{}, fmt.Errorf("operations: acquire connection: %w", err)
	}
	err = b.Commit(ctx, conn.Conn())
	conn.Release()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		switch pgErr.ConstraintName {
		case "ops_runs_active_identity", "ops_permanent_identities_pkey":
			err = errDuplicate
		case "ops_scope_locks_pkey":
			err = &scopeBusyError{scope: scope}
		}
	}
	var busy *scopeBusyError
	switch {
	case err == nil:
		return a.accepted(runID), nil
	case tenancy.IsRefused(err):
		// Not authorized in the transaction (or the tenant's workspace was not the one
		// remembered): nothing was written. authorizeStart answers the denial; a start it
		// allows (a role granted meanwhile) starts again, unfolded.
		if err := s.unfold(ctx, a); err != nil {
			return StartOutcome{}, err
		}
		return StartOutcome{}, errRetryStart
	case errors.Is(err, errDuplicate):
		o, found, ferr := s.findDuplicate(ctx, a)
		if ferr != nil {
			return StartOutcome{}, ferr
		}
		if !found {
			return StartOutcome{}, errRetryDedupe
		}
		return s.auditAnswered(ctx, a, o)
	case errors.As(err, &busy):
		o, err := s.scopeBusyOutcome(ctx, a.info, busy.scope)
		if err != nil {
			return o, err
		}
		return s.auditAnswered(ctx, a, o)
	default:
		return StartOutcome{}, err
	}
}

var errDuplicate = errors.New("duplicate identity")

type scopeBusyError struct{ scope string }

func (e *scopeBusyError) Error() string { return "scope busy: " + e.scope }

func (s *Service) scopeBusyOutcome(ctx context.Context, info TypeInfo, scope string) (StartOutcome, error) {
	var holder uuid.UUID
	var holderType, status string
	err := s.pool.QueryRow(ctx, `SELECT r.run_id, r.type, r.status FROM ops_scope_locks l JOIN ops_runs r USING (run_id) WHERE l.scope_key = $1`, scope).
		Scan(&holder, &holderType, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return StartOutcome{}, errRetryDedupe
	}
	if err != nil {
		return StartOutcome{}, fmt.Errorf("operations: scope holder: %w", err)
	}
	label := holderType
	if h, ok := LookupType(holderType); ok {
		label = h.Label
	}
	if strings.HasPrefix(scope, runbookScopePrefix) {
		return StartOutcome{Status: StartScopeBusy, OperationType: info.Type, ReasonCode: ReasonScopeBusy,
			OperatorMessage: fmt.Sprintf("%s was not started: another %s run is active in this workspace.", info.Label, label),
			ShortReason:     "Runbook already running",
			Run:             &RunRef{ID: holder, URL: RunURL(holder), Status: Status(status)},
			NextSteps: []NextStep{{Label: "View the running runbook", Href: RunURL(holder)},
				{Label: "Start again when it has finished"}}}, nil
	}
	return StartOutcome{Status: StartScopeBusy, OperationType: info.Type, ReasonCode: ReasonScopeBusy,
		OperatorMessage: fmt.Sprintf("%s was not started: %s is already using this tenant's provider connection.", info.Label, label),
		ShortReason:     "Provider connection busy",
		Run:             &RunRef{ID: holder, URL: RunURL(holder), Status: Status(status)},
		NextSteps: []NextStep{{Label: "View the running operation", Href: RunURL(holder)},
			{Label: "Start again when it has finished"}}}, nil
}

// block records a run that a precondition stopped: RunQueued + RunBlocked, an audit
// entry and the initiator's notification; nothing is dispatched.
func (s *Service) block(ctx context.Context, a *admission, reason ReasonCode, msg string) (StartOutcome, error) {
	// An active run with this identity answers first: the start is deduped, not
	// blocked (provider-backed and permanent identities looked before the connection;
	// the others, whose duplicate the insert finds on the accepted path, look here).
	if !a.info.ProviderBacked && !a.info.Identity.Permanent() {
		if out, found, err := s.findDuplicate(ctx, a); err != nil {
			return out, err
		} else if found {
			return s.auditAnswered(ctx, a, out)
		}
	}
	label, next := ReasonInfo(reason)
	steps := []NextStep{{Label: next}}
	runID, err := s.recordEnded(ctx, a, OutcomeBlocked,
		func(now time.Time) []eventstore.Event {
			return []eventstore.Event{RunBlocked{ReasonCode: reason, Message: Sanitize(msg), NextSteps: steps, CompletedAt: now}}
		}, "blocked", reason)
	if errors.Is(err, errDuplicate) {
		return s.endedDuplicate(ctx, a)
	}
	if err != nil {
		return StartOutcome{}, err
	}
	steps = append(steps, NextStep{Label: "View run", Href: RunURL(runID)})
	return StartOutcome{Status: StartBlocked, OperationType: a.info.Type, ReasonCode: reason,
		OperatorMessage: Sanitize(fmt.Sprintf("%s was blocked: %s", a.info.Label, msg)), ShortReason: label,
		Run: &RunRef{ID: runID, URL: RunURL(runID), Status: StatusCompleted}, NextSteps: steps}, nil
}

// dispatchFailed records a run whose job could not be enqueued as failed.
func (s *Service) dispatchFailed(ctx context.Context, a *admission, cause error) (StartOutcome, error) {
	s.log.Error("dispatch failed", "type", a.info.Type, "error", Sanitize(cause.Error()))
	msg := "The run could not be handed to a worker."
	runID, err := s.recordEnded(ctx, a, OutcomeFailed,
		func(now time.Time) []eventstore.Event {
			return []eventstore.Event{RunDispatchFailed{ReasonCode: ReasonDispatchFailed, Message: msg},
				RunFailed{ReasonCode: ReasonDispatchFailed, Message: msg, CompletedAt: now}}
		}, "dispatch_failed", ReasonDispatchFailed)
	if errors.Is(err, errDuplicate) {
		return s.endedDuplicate(ctx, a)
	}
	if err != nil {
		return StartOutcome{}, err
	}
	label, next := ReasonInfo(ReasonDispatchFailed)
	return StartOutcome{Status: StartBlocked, OperationType: a.info.Type, ReasonCode: ReasonDispatchFailed,
		OperatorMessage: a.info.Label + " could not be queued: " + msg, ShortReason: label,
		Run:       &RunRef{ID: runID, URL: RunURL(runID), Status: StatusCompleted},
		NextSteps: []NextStep{{Label: next}, {Label: "View run", Href: RunURL(runID)}}}, nil
}

// recordEnded writes a run that ends at the gate (blocked, or not dispatchable).
func (s *Service) recordEnded(ctx context.Context, a *admission, outcome Outcome, terminal func(now time.Time) []eventstore.Event,
	auditOutcome string, reason ReasonCode) (uuid.UUID, error) {
	runID, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("operations: new run id: %w", err)
	}
	now := s.now().UTC()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q, args := a.insertRun(runID, StatusCompleted, outcome, now, &now)
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("operations: insert run: %w", err)
		}
		// A scheduled slot (or a click) that ends at the gate (blocked, not dispatchable)
		// still takes its identity forever: the slot never fires again.
		if a.info.Identity.Permanent() {
			_, err := tx.Exec(ctx, `INSERT INTO ops_permanent_identities (identity_hash, run_id) VALUES ($1, $2)`, a.identity, runID)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return errDuplicate
			}
			if err != nil {
				return fmt.Errorf("operations: permanent identity: %w", err)
			}
		}
		meta := a.meta(runID)
		evs := []eventstore.NewEvent{{Data: a.queued(runID, now), Metadata: meta}}
		for _, e := range terminal(now) {
			evs = append(evs, eventstore.NewEvent{Data: e, Metadata: meta})
		}
		run := &Run{ID: runID, Type: a.info.Type, WorkspaceID: a.req.WorkspaceID, TenantID: a.req.TenantID, Initiator: a.req.Initiator}
		note, notifies, err := terminalNotification(run, outcome)
		if err != nil {
			return err
		}
		if notifies {
			evs = append(evs, eventstore.NewEvent{Data: note, Metadata: meta})
		}
		if _, err := s.store.AppendTx(ctx, tx, RunStream(runID), eventstore.NoStream, evs...); err != nil {
			return fmt.Errorf("operations: append: %w", err)
		}
		entry := a.startEntry(StartStatus(auditOutcome), runID, reason)
		entry.After = a.runAfter(StatusCompleted, outcome)
		return s.audit.RecordTx(ctx, tx, entry)
	})
	if err != nil {
		return uuid.Nil, err
	}
	return runID, nil
}

// endedDuplicate answers a start that ended at the gate but whose permanent identity
// another run took meanwhile: that run, deduped.
func (s *Service) endedDuplicate(ctx context.Context, a *admission) (StartOutcome, error) {
	out, found, err := s.findDuplicate(ctx, a)
	if err != nil {
		return StartOutcome{}, err
	}
	if !found {
		return StartOutcome{}, fmt.Errorf("operations: the run holding identity %s vanished", a.identity)
	}
	return out, nil
}
