// Package onboarding adds a new managed tenant step by step (spec 216, 086 T036): an
// onboarding session creates the tenant and its provider connection (through tenancy's
// own APIs and validation), starts provider.verify on that connection through the start
// gate, then bootstraps the tenant: the selected operations start one after another on
// the tenant's protected scope, each admitted only once the previous run has ended.
// Nothing follows runs in the background: Advance admits the next pending operation
// when it is called (the session page calls it on every load by a member who may
// bootstrap, and its "Continue" button calls it too).
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, beside the run-type
// modules: it imports operations, tenancy, audit, inventory and backup, and must not import projections,
// modules/monolith, web or cmd/.
package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TypeVerify is the run type of the session's verification.
const TypeVerify = "provider.verify"

// TypeBackup is the bootstrap's first backup: a backup set of the policies of the
// tenant's newest complete inventory snapshot (so it needs inventory.sync selected too).
const TypeBackup = "backup_set.add_policies"

// BootstrapTypes are the operations a bootstrap may select, in the order they run.
var BootstrapTypes = []string{"inventory.sync", "directory.groups.sync", "directory.role_definitions.sync", TypeBackup}

// maxBackupContext bounds the first backup's start context below the gate's 16 KiB.
const maxBackupContext = 15 << 10

// The errors callers map to answers.
var (
	// ErrNotFound: no such session (404).
	ErrNotFound = errors.New("onboarding: session not found")
	// ErrInvalid: a bad selection or input (422).
	ErrInvalid = errors.New("onboarding: invalid input")
)

// Session is one onboarding of a tenant.
type Session struct {
	ID           uuid.UUID
	WorkspaceID  uuid.UUID
	TenantID     uuid.UUID
	ConnectionID uuid.UUID
	CreatedBy    uuid.UUID
	CreatedAt    time.Time
	// VerifyRunID is the last verification started from the session (uuid.Nil: none).
	VerifyRunID uuid.UUID
	// Pending are the bootstrap operations not admitted yet, in order.
	Pending []string
	// CurrentType and CurrentRunID are the bootstrap operation admitted last.
	CurrentType  string
	CurrentRunID uuid.UUID
	// AdmittedRuns are every bootstrap run admitted so far, in order.
	AdmittedRuns []uuid.UUID
}

// Bootstrapping reports whether the session's bootstrap was started.
func (s Session) Bootstrapping() bool { return s.CurrentType != "" || len(s.Pending) > 0 }

// NewTenant is what a session is created from.
type NewTenant struct {
	WorkspaceID   uuid.UUID
	TenantName    string
	EntraTenantID string
	ClientID      string
	SecretRef     string // env:ATLAS_GRAPH_SECRET_… or file:…
	GraphBaseURL  string // optional
}

// BootstrapOutcome is spec 216's OnboardingBootstrapStartOutcome: the gate's answer for
// the operation asked for now, the one admitted (nil: none), and those still pending.
type BootstrapOutcome struct {
	operations.StartOutcome
	AcceptedOperation *string  `json:"acceptedOperation"`
	PendingOperations []string `json:"pendingOperations"`
	// SkippedOperations are operations dropped by this call because they could not start
	// (the first backup without a complete inventory snapshot).
	SkippedOperations []string `json:"skippedOperations,omitempty"`
}

// Service holds the onboarding sessions.
type Service struct {
	pool *pgxpool.Pool
	ten  *tenancy.Service
	ops  *operations.Service
	inv  *inventory.Service
	rec  *audit.Recorder
	log  *slog.Logger
}

// New returns the onboarding service.
func New(pool *pgxpool.Pool, ten *tenancy.Service, ops *operations.Service, inv *inventory.Service, rec *audit.Recorder, log *slog.Logger) *Service {
	return &Service{pool: pool, ten: ten, ops: ops, inv: inv, rec: rec, log: log}
}

// Create adds the tenant and its provider connection in the user's workspace and the
// session onboarding them, audited. The caller must hold provider.manage on the
// workspace (owner, manager); tenancy validates every field (ErrInvalid wrapped).
func (s *Service) Create(ctx context.Context, user uuid.UUID, in NewTenant) (Session, error) {
	actor := tenancy.UserActor(user)
	if strings.TrimSpace(in.SecretRef) == "" {
		return Session{}, fmt.Errorf("onboarding: create: secret reference: required: %w", tenancy.ErrInvalid)
	}
	// Check the connection first: a bad one must not leave a tenant behind.
	conn := tenancy.ProviderConnection{DisplayName: strings.TrimSpace(in.TenantName) + " app", EntraTenantID: in.EntraTenantID,
		ClientID: in.ClientID, SecretRef: in.SecretRef, GraphBaseURL: in.GraphBaseURL}
	if strings.TrimSpace(in.TenantName) == "" {
		conn.DisplayName = "app"
	}
	if _, err := tenancy.CheckProviderConnection(conn); err != nil {
		return Session{}, fmt.Errorf("onboarding: create: %w", err)
	}
	t, err := s.ten.AddTenant(ctx, actor, in.WorkspaceID, in.TenantName, in.EntraTenantID)
	if err != nil {
		return Session{}, fmt.Errorf("onboarding: create: %w", err)
	}
	conn.TenantID, conn.DisplayName = t.ID, t.Name+" app"
	pc, err := s.ten.AddProviderConnection(ctx, actor, conn)
	if err != nil {
		return Session{}, fmt.Errorf("onboarding: create: %w", err)
	}
	sess := Session{ID: uuid.New(), WorkspaceID: in.WorkspaceID, TenantID: t.ID, ConnectionID: pc.ID, CreatedBy: user,
		CreatedAt: time.Now().UTC()}
	if _, err := s.pool.Exec(ctx, `INSERT INTO ob_sessions (session_id, workspace_id, tenant_id, connection_id, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, sess.ID, sess.WorkspaceID, sess.TenantID, sess.ConnectionID, sess.CreatedBy, sess.CreatedAt); err != nil {
		return Session{}, fmt.Errorf("onboarding: create: %w", err)
	}
	if err := s.rec.Record(ctx, audit.AuditRecorded{EntryID: uuid.New(), Action: "onboarding.session.created", Outcome: "success",
		Actor: actor, WorkspaceID: sess.WorkspaceID, TenantID: sess.TenantID, Target: "onboarding:" + sess.ID.String()}); err != nil {
		return Session{}, fmt.Errorf("onboarding: create: %w", err)
	}
	return sess, nil
}

const sessionColumns = `session_id, workspace_id, tenant_id, connection_id, created_by, created_at,
	verify_run_id, pending, current_type, current_run_id, admitted_runs`

func scanSession(row pgx.Row) (Session, error) {
	var s Session
	var verify, current *uuid.UUID
	err := row.Scan(&s.ID, &s.WorkspaceID, &s.TenantID, &s.ConnectionID, &s.CreatedBy, &s.CreatedAt,
		&verify, &s.Pending, &s.CurrentType, &current, &s.AdmittedRuns)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if verify != nil {
		s.VerifyRunID = *verify
	}
	if current != nil {
		s.CurrentRunID = *current
	}
	return s, err
}

// Session returns one session (ErrNotFound when unknown).
func (s *Service) Session(ctx context.Context, id uuid.UUID) (Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM ob_sessions WHERE session_id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Session{}, fmt.Errorf("onboarding: session %s: %w", id, err)
	}
	return sess, err
}

// Verification is the session's last verification run (nil: none started) and whether
// a new one may start: only when none runs (an active run shows "Refresh"; a stuck one
// is ended by the sweeper once stale, and then may be re-run).
func (s *Service) Verification(ctx context.Context, sess Session) (*operations.Run, bool, error) {
	if sess.VerifyRunID == uuid.Nil {
		return nil, true, nil
	}
	run, err := s.ops.Load(ctx, sess.VerifyRunID)
	if err != nil {
		return nil, false, fmt.Errorf("onboarding: verification of %s: %w", sess.ID, err)
	}
	return run, run.Terminal(), nil
}

// StartVerification starts provider.verify on the session's connection through the
// gate (which authorizes the initiator: provider.verify) and remembers the run.
func (s *Service) StartVerification(ctx context.Context, sess Session, who operations.Initiator) (operations.StartOutcome, error) {
	out, err := s.ops.Start(ctx, operations.StartRequest{Type: TypeVerify, TenantID: sess.TenantID, ProviderConnectionID: sess.ConnectionID,
		Initiator: who, SourceSurface: "web"})
	if err != nil {
		return out, fmt.Errorf("onboarding: verify %s: %w", sess.ID, err)
	}
	if out.Run != nil {
		if _, err := s.pool.Exec(ctx, `UPDATE ob_sessions SET verify_run_id = $2 WHERE session_id = $1`, sess.ID, out.Run.ID); err != nil {
			return out, fmt.Errorf("onboarding: verify %s: %w", sess.ID, err)
		}
	}
	return out, nil
}

// StartBootstrap records the selected operations (BootstrapTypes, runnable ones only,
// run in BootstrapTypes order) and admits the first; a session already bootstrapping
// only advances.
func (s *Service) StartBootstrap(ctx context.Context, sessID uuid.UUID, selected []string, who operations.Initiator) (BootstrapOutcome, error) {
	var pending []string
	for _, t := range BootstrapTypes {
		if slices.Contains(selected, t) && s.ops.Runnable(t) {
			pending = append(pending, t)
		}
	}
	for _, t := range selected {
		if !slices.Contains(pending, t) {
			return BootstrapOutcome{}, fmt.Errorf("onboarding: %q cannot be bootstrapped: %w", t, ErrInvalid)
		}
	}
	if len(pending) == 0 {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: select at least one operation: %w", ErrInvalid)
	}
	if slices.Contains(pending, TypeBackup) && !slices.Contains(pending, "inventory.sync") {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: the first backup needs the inventory sync: %w", ErrInvalid)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE ob_sessions SET pending = $2
		WHERE session_id = $1 AND current_type = '' AND cardinality(pending) = 0`, sessID, pending); err != nil {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: bootstrap %s: %w", sessID, err)
	}
	return s.Advance(ctx, sessID, who)
}

// Advance admits the next pending bootstrap operation when the one admitted last has
// ended: its outcome names it as acceptedOperation (nil when nothing was admitted: the
// previous run is still active, the scope was busy, or nothing is pending). Concurrent
// calls are serialized on the session's row, so one operation is admitted at a time.
func (s *Service) Advance(ctx context.Context, sessID uuid.UUID, who operations.Initiator) (BootstrapOutcome, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	sess, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM ob_sessions WHERE session_id = $1 FOR UPDATE`, sessID))
	if errors.Is(err, ErrNotFound) {
		return BootstrapOutcome{}, err
	}
	if err != nil {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
	}
	out := BootstrapOutcome{PendingOperations: slices.Clone(sess.Pending)}
	if out.PendingOperations == nil {
		out.PendingOperations = []string{}
	}
	if sess.CurrentRunID != uuid.Nil {
		run, err := s.ops.Load(ctx, sess.CurrentRunID)
		if err != nil {
			return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
		}
		if !run.Terminal() {
			// The previous operation still holds the protected scope.
			out.StartOutcome = operations.StartOutcome{Status: operations.StartScopeBusy, OperationType: sess.CurrentType,
				ReasonCode: operations.ReasonScopeBusy, OperatorMessage: "Waiting for the previous bootstrap operation to end.",
				ShortReason: "Previous operation still running",
				Run:         &operations.RunRef{ID: run.ID, URL: operations.RunURL(run.ID), Status: run.Status}}
			return out, nil
		}
	}
	if len(sess.Pending) == 0 {
		return out, nil
	}
	next := sess.Pending[0]
	var startCtx json.RawMessage
	if next == TypeBackup {
		startCtx, err = s.firstBackupContext(ctx, sess.TenantID)
		if err != nil {
			return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
		}
		if startCtx == nil { // no complete inventory: nothing to back up
			if _, err := tx.Exec(ctx, `UPDATE ob_sessions SET pending = $2 WHERE session_id = $1`, sessID, sess.Pending[1:]); err != nil {
				return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
			}
			if err := tx.Commit(ctx); err != nil {
				return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
			}
			out.PendingOperations = slices.Clone(sess.Pending[1:])
			out.SkippedOperations = []string{next}
			return out, nil
		}
	}
	started, err := s.ops.Start(ctx, operations.StartRequest{Type: next, TenantID: sess.TenantID, ProviderConnectionID: sess.ConnectionID,
		Context: startCtx, Initiator: who, SourceSurface: "web"})
	if err != nil {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
	}
	out.StartOutcome = started
	if started.Status == operations.StartScopeBusy || started.Run == nil {
		return out, nil // another run holds the scope: try again on the next call
	}
	// Accepted, deduped or blocked: the run exists; a blocked one has ended already.
	if _, err := tx.Exec(ctx, `UPDATE ob_sessions SET pending = $2, current_type = $3, current_run_id = $4,
		admitted_runs = array_append(admitted_runs, $4) WHERE session_id = $1`, sessID, sess.Pending[1:], next, started.Run.ID); err != nil {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return BootstrapOutcome{}, fmt.Errorf("onboarding: advance %s: %w", sessID, err)
	}
	if started.Status == operations.StartAccepted || started.Status == operations.StartDeduped {
		out.AcceptedOperation = &next
	}
	out.PendingOperations = slices.Clone(sess.Pending[1:])
	return out, nil
}

// firstBackupContext is the first backup's start context: the policies of the tenant's
// newest complete inventory snapshot, as many as backup.MaxPolicies and the context
// bound allow (the set's name says how many of how many); nil without such a snapshot
// or without policies.
func (s *Service) firstBackupContext(ctx context.Context, tenantID uuid.UUID) (json.RawMessage, error) {
	snaps, err := s.inv.LatestComplete(ctx, tenantID, 1)
	if err != nil || len(snaps) == 0 {
		return nil, err
	}
	items, err := s.inv.AllItems(ctx, snaps[0].ID)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	var c backup.Context
	size := 200 // the name and the brackets
	for _, it := range items {
		ref := backup.PolicyRef{Type: it.PolicyType, ID: it.PolicyID}
		raw, err := json.Marshal(ref)
		if err != nil {
			return nil, err
		}
		if len(c.Policies) == backup.MaxPolicies || size+len(raw)+1 > maxBackupContext {
			break
		}
		size += len(raw) + 1
		c.Policies = append(c.Policies, ref)
	}
	c.Name = fmt.Sprintf("Onboarding: first backup (%d of %d policies)", len(c.Policies), len(items))
	return json.Marshal(c)
}
