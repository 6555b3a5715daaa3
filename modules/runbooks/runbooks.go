// Package runbooks is the platform operators' runbooks (spec 113): a catalog, a
// preflight that says what a run would change, and a start through the one start gate
// (operations.Service.Start) with a platform initiator, a typed confirmation and a
// reason. findings.lifecycle.backfill is its one runbook: one workspace-scoped run whose
// handler works the tenants in turn, adding each tenant's figures to the run's counts.
// Every step is an audit entry (platform.ops.runbooks.preflight|start|completed|failed).
//
// Layering (README.md, "Architecture: layers and imports"): floor 3: it imports
// operations, tenancy, audit and drift (its Go API, never its tables), and must not
// import projections, modules/monolith, web or cmd/.
package runbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/drift"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// Errors of the runbooks module.
var (
	// ErrUnknownRunbook: no runbook has the key (404).
	ErrUnknownRunbook = errors.New("runbooks: unknown runbook")
	// ErrInvalid: a bad scope, confirmation or reason (422); the message says which.
	ErrInvalid = errors.New("runbooks: invalid request")
	// ErrForbidden: the platform user lacks a capability (403).
	ErrForbidden = errors.New("runbooks: forbidden")
)

// Runbook is one catalog entry.
type Runbook struct {
	// Key is the runbook's stable key, also its run type and what the operator types
	// to confirm a run.
	Key string `json:"key"`
	// Label and Description are what operators read.
	Label       string `json:"label"`
	Description string `json:"description"`
	// Capability is the platform capability needed (besides platform.runbooks.run) to run it.
	Capability tenancy.PlatformCapability `json:"capability"`
	// EstimatedDuration is a rough figure for operators.
	EstimatedDuration string `json:"estimatedDuration"`
}

// BackfillKey is the findings lifecycle backfill's key (and run type).
const BackfillKey = "findings.lifecycle.backfill"

// catalog is the closed set of runbooks.
var catalog = []Runbook{{
	Key:   BackfillKey,
	Label: "Findings lifecycle backfill",
	Description: "Consolidates each tenant's drift findings into one finding per policy and field, " +
		"with first-seen and last-seen times and open or resolved state. Idempotent: a second run changes nothing.",
	Capability:        tenancy.PlatformFindingsLifecycleBackfill,
	EstimatedDuration: "under a minute per 100 tenants",
}}

// Catalog returns the runbooks.
func Catalog() []Runbook { return append([]Runbook(nil), catalog...) }

// Lookup returns the runbook with the key, or ErrUnknownRunbook.
func Lookup(key string) (Runbook, error) {
	for _, r := range catalog {
		if r.Key == key {
			return r, nil
		}
	}
	return Runbook{}, fmt.Errorf("%w: %q", ErrUnknownRunbook, key)
}

// The reason codes an operator picks from (spec 113).
var ReasonCodes = []string{"DATA_REPAIR", "INCIDENT", "SUPPORT", "SECURITY"}

// maxReasonText bounds the reason's text.
const maxReasonText = 500

// The scopes as the run's context records them.
const (
	ScopeAll    = "all_tenants"
	ScopeTenant = "single_tenant"
)

// Scope is what a runbook works on: every tenant of a workspace, or one tenant.
type Scope struct {
	// All is true for every tenant of WorkspaceID.
	All bool
	// WorkspaceID is the workspace (for one tenant, the tenant's; set by Resolve).
	WorkspaceID uuid.UUID
	// TenantID is the one tenant (All false).
	TenantID uuid.UUID
}

// Name is the scope as the run's context records it.
func (s Scope) Name() string {
	if s.All {
		return ScopeAll
	}
	return ScopeTenant
}

// The start surfaces of runbooks.
const (
	SourceSystem = "system"
	SourceCLI    = "cli"
)

// Origin is who asks, from where.
type Origin struct {
	// User is the platform user. A preflight from the command line may have none (its
	// operator holds the database URL); a run always needs one.
	User tenancy.PlatformUser
	// IP and UserAgent are the client's (empty from the CLI).
	IP, UserAgent string
	// Source is the start surface: "system" (the panel) or "cli".
	Source string
}

// Preflight is what a run would do.
type Preflight struct {
	// Total is the findings scanned.
	Total int64 `json:"total"`
	// Affected is the findings that would change.
	Affected int64 `json:"affected"`
	// Tenants is the tenants the run would work.
	Tenants int64 `json:"tenants"`
}

// StartRequest is one attempt to run a runbook.
type StartRequest struct {
	Key   string
	Scope Scope
	// ReasonCode and ReasonText are required for all tenants and for break-glass users.
	ReasonCode, ReasonText string
	// Confirm must equal Key (typed by the operator).
	Confirm string
}

// Service runs the runbooks.
type Service struct {
	ops   *operations.Service
	ten   *tenancy.Service
	drift *drift.Service
	audit *audit.Recorder
	log   *slog.Logger
}

// New returns the runbooks service.
func New(ops *operations.Service, ten *tenancy.Service, d *drift.Service, rec *audit.Recorder, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{ops: ops, ten: ten, drift: d, audit: rec, log: log}
}

// Register installs the findings.lifecycle.backfill handler.
func (s *Service) Register(ops *operations.Service) { ops.Handle(BackfillKey, s.backfill) }

// ParseScope reads "all" or a tenant id; workspace picks the workspace of "all"
// (uuid.Nil: Resolve takes the only workspace with tenants).
func ParseScope(raw string, workspace uuid.UUID) (Scope, error) {
	raw = strings.TrimSpace(raw)
	if raw == "all" {
		return Scope{All: true, WorkspaceID: workspace}, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil || id == uuid.Nil {
		return Scope{}, fmt.Errorf("%w: scope: must be \"all\" or a tenant id", ErrInvalid)
	}
	return Scope{TenantID: id}, nil
}

// Resolve checks the scope and returns it with its workspace, and the tenants it covers
// (every tenant the platform manages may be touched).
func (s *Service) Resolve(ctx context.Context, sc Scope) (Scope, []tenancy.Tenant, error) {
	if !sc.All {
		t, err := s.ten.Tenant(ctx, sc.TenantID)
		if errors.Is(err, tenancy.ErrNotFound) {
			return Scope{}, nil, fmt.Errorf("%w: scope: no such tenant", ErrInvalid)
		}
		if err != nil {
			return Scope{}, nil, err
		}
		sc.WorkspaceID = t.WorkspaceID
		return sc, []tenancy.Tenant{t}, nil
	}
	if sc.WorkspaceID == uuid.Nil {
		wss, err := s.ten.Workspaces(ctx)
		if err != nil {
			return Scope{}, nil, err
		}
		var found []tenancy.Workspace
		var tenants []tenancy.Tenant
		for _, w := range wss {
			ts, err := s.ten.TenantsOf(ctx, w.ID)
			if err != nil {
				return Scope{}, nil, err
			}
			if len(ts) > 0 {
				found, tenants = append(found, w), ts
			}
		}
		if len(found) != 1 {
			return Scope{}, nil, fmt.Errorf("%w: workspace: %d workspaces have tenants, name one (--workspace)", ErrInvalid, len(found))
		}
		sc.WorkspaceID = found[0].ID
		return sc, tenants, nil
	}
	ts, err := s.ten.TenantsOf(ctx, sc.WorkspaceID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return Scope{}, nil, fmt.Errorf("%w: workspace: no such workspace", ErrInvalid)
	}
	return sc, ts, err
}

// Preflight says what a run of the runbook over the scope would change, writing
// nothing but its audit entry (platform.runbooks.view is needed, or the command line
// without a platform user).
func (s *Service) Preflight(ctx context.Context, key string, sc Scope, o Origin) (Preflight, Scope, error) {
	rb, err := Lookup(key)
	if err != nil {
		return Preflight{}, Scope{}, err
	}
	actor := string(tenancy.PlatformActor(o.User.ID))
	switch {
	case o.User.ID == uuid.Nil && o.Source == SourceCLI:
		actor = "system:cli" // the command line's operator, who holds the database URL
	case !o.User.Can(tenancy.PlatformRunbooksView):
		return Preflight{}, Scope{}, s.denied(ctx, "platform.ops.runbooks.preflight", rb, sc, o)
	}
	p, sc, err := s.preflight(ctx, sc)
	if err != nil {
		return Preflight{}, Scope{}, err
	}
	err = s.record(ctx, "platform.ops.runbooks.preflight", "succeeded", actor, sc, o.IP, o.UserAgent, "", detail{
		Runbook: rb.Key, Scope: sc.Name(), TenantID: sc.TenantID, Affected: p.Affected, Total: &p.Total, Tenants: &p.Tenants,
		PlatformUser: o.User.Email, BreakGlass: o.User.BreakGlass})
	return p, sc, err
}

// preflight resolves the scope and sums its tenants' figures. A tenant whose findings
// cannot be read is counted among the tenants and logged; the run will report it failed.
func (s *Service) preflight(ctx context.Context, sc Scope) (Preflight, Scope, error) {
	sc, tenants, err := s.Resolve(ctx, sc)
	if err != nil {
		return Preflight{}, Scope{}, err
	}
	p := Preflight{Tenants: int64(len(tenants))}
	for _, t := range tenants {
		c, err := s.drift.PreflightLifecycle(ctx, t.ID)
		if err != nil {
			if ctx.Err() != nil {
				return Preflight{}, Scope{}, err
			}
			s.log.Warn("findings lifecycle preflight: tenant unreadable", "tenant", t.ID, "error", operations.Sanitize(err.Error()))
			continue
		}
		p.Total += c.Total
		p.Affected += c.Changed
	}
	return p, sc, nil
}

// Start runs the runbook through the start gate: the confirmation must be the key, a
// reason is required for all tenants and for a break-glass user, and the platform user
// needs platform.runbooks.run and the runbook's capability. The answer's links lead to
// /system/ops/runs/{id}; the attempt is audited (platform.ops.runbooks.start) with its
// outcome, the affected count and the break-glass flag.
func (s *Service) Start(ctx context.Context, req StartRequest, o Origin) (operations.StartOutcome, error) {
	rb, err := Lookup(req.Key)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	if !o.User.Can(tenancy.PlatformRunbooksRun) || !o.User.Can(rb.Capability) {
		return operations.StartOutcome{}, s.denied(ctx, "platform.ops.runbooks.start", rb, req.Scope, o)
	}
	if strings.TrimSpace(req.Confirm) != rb.Key {
		return operations.StartOutcome{}, fmt.Errorf("%w: confirmation: type the runbook key %q to confirm", ErrInvalid, rb.Key)
	}
	code, text := strings.TrimSpace(req.ReasonCode), strings.TrimSpace(req.ReasonText)
	switch {
	case code == "" && text == "" && (req.Scope.All || o.User.BreakGlass):
		why := "a run over all tenants"
		if o.User.BreakGlass {
			why = "a break-glass user's run"
		}
		return operations.StartOutcome{}, fmt.Errorf("%w: reason: %s needs a reason code and text", ErrInvalid, why)
	case code == "" && text == "":
	case !validReasonCode(code):
		return operations.StartOutcome{}, fmt.Errorf("%w: reasonCode: must be one of %s", ErrInvalid, strings.Join(ReasonCodes, ", "))
	case text == "":
		return operations.StartOutcome{}, fmt.Errorf("%w: reason: the reason text is required with a reason code", ErrInvalid)
	case utf8.RuneCountInString(text) > maxReasonText || strings.ContainsFunc(text, isControl):
		return operations.StartOutcome{}, fmt.Errorf("%w: reason: at most %d characters of plain text", ErrInvalid, maxReasonText)
	}
	pf, sc, err := s.preflight(ctx, req.Scope)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	runCtx := backfillContext{Scope: sc.Name(), ReasonCode: code, ReasonText: text}
	if !sc.All {
		runCtx.TargetTenantID = sc.TenantID.String()
	}
	raw, err := json.Marshal(runCtx)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	ua := o.UserAgent
	if len(ua) > 200 {
		ua = ua[:200]
	}
	out, err := s.ops.Start(ctx, operations.StartRequest{Type: rb.Key, WorkspaceID: sc.WorkspaceID, Context: raw,
		Initiator:     operations.Initiator{Kind: "platform", UserID: o.User.ID, Name: o.User.Email, IP: o.IP, UserAgent: ua},
		SourceSurface: o.Source})
	if errors.Is(err, operations.ErrForbidden) {
		return operations.StartOutcome{}, ErrForbidden
	}
	if err != nil {
		return operations.StartOutcome{}, err
	}
	systemLinks(&out)
	d := detail{Runbook: rb.Key, Scope: sc.Name(), TenantID: sc.TenantID, Affected: pf.Affected, PlatformUser: o.User.Email,
		BreakGlass: o.User.BreakGlass, ReasonCode: code, ReasonText: text}
	if out.Run != nil {
		d.RunID = out.Run.ID
	}
	if err := s.record(ctx, "platform.ops.runbooks.start", string(out.Status), string(tenancy.PlatformActor(o.User.ID)), sc, o.IP, ua, code, d); err != nil {
		return operations.StartOutcome{}, err
	}
	return out, nil
}

// SystemRunURL is a run's page on /system.
func SystemRunURL(id uuid.UUID) string { return "/system/ops/runs/" + id.String() }

// systemLinks points an outcome's links at /system.
func systemLinks(out *operations.StartOutcome) {
	if out.Run == nil {
		return
	}
	hub := operations.RunURL(out.Run.ID)
	out.Run.URL = SystemRunURL(out.Run.ID)
	for i := range out.NextSteps {
		if out.NextSteps[i].Href == hub {
			out.NextSteps[i].Href = out.Run.URL
		}
	}
}

func validReasonCode(c string) bool {
	for _, r := range ReasonCodes {
		if r == c {
			return true
		}
	}
	return false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// backfillContext is the run's start context (operations' backfillContext schema).
type backfillContext struct {
	Scope          string `json:"scope"`
	TargetTenantID string `json:"targetTenantId,omitempty"`
	ReasonCode     string `json:"reasonCode,omitempty"`
	ReasonText     string `json:"reasonText,omitempty"`
}

// detail is an audit entry's After: what the runbook step was about.
type detail struct {
	Runbook      string    `json:"runbook"`
	Scope        string    `json:"scope"`
	TenantID     uuid.UUID `json:"targetTenantId,omitzero"`
	Affected     int64     `json:"affected"`
	Total        *int64    `json:"total,omitempty"`
	Tenants      *int64    `json:"tenants,omitempty"`
	RunID        uuid.UUID `json:"runId,omitzero"`
	PlatformUser string    `json:"platformUser,omitempty"`
	BreakGlass   bool      `json:"breakGlass"`
	ReasonCode   string    `json:"reasonCode,omitempty"`
	ReasonText   string    `json:"reasonText,omitempty"`
	Counts       any       `json:"counts,omitempty"`
}

// record appends one runbook audit entry.
func (s *Service) record(ctx context.Context, action, outcome string, actor string, sc Scope, ip, ua, reason string, d detail) error {
	after, err := json.Marshal(d)
	if err != nil {
		return err
	}
	target := "runbook:" + d.Runbook
	if d.RunID != uuid.Nil {
		target = "run:" + d.RunID.String()
	}
	return s.audit.Record(ctx, audit.AuditRecorded{Action: action, Outcome: outcome, Actor: actor,
		WorkspaceID: sc.WorkspaceID, TenantID: sc.TenantID, Target: target, After: after, IP: ip, UserAgent: ua, Reason: reason})
}

// denied audits a refused step and returns ErrForbidden.
func (s *Service) denied(ctx context.Context, action string, rb Runbook, sc Scope, o Origin) error {
	if err := s.record(ctx, action, "denied", string(tenancy.PlatformActor(o.User.ID)), sc, o.IP, o.UserAgent, string(operations.ReasonPermissionDenied),
		detail{Runbook: rb.Key, Scope: sc.Name(), TenantID: sc.TenantID, PlatformUser: o.User.Email, BreakGlass: o.User.BreakGlass}); err != nil {
		return err
	}
	return ErrForbidden
}
