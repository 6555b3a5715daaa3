// Package restore writes a sealed backup set back to its tenant. A restore is created
// from a backup set; its restore.preview run reads each item's current state from Graph
// and stores a per-item diff (created / updated / unchanged), which pages render from the
// database. Its restore.execute run, started only after the operator typed the tenant's
// name, writes the items (graph.Client Create/Update) and stores per-item results
// (created / updated / skipped / failed with a reason code), audited with before/after.
// High-risk policy types are preview-only unless the workspace enables them.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, a run-type module:
// it imports graph, operations, provider, tenancy, audit and backup, and must not import
// projections, modules/monolith, web or cmd/.
package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// The run types of this module.
const (
	// TypePreview reads the tenant's current state and stores the diff; it never writes.
	TypePreview = "restore.preview"
	// TypeExecute writes the restore's items to the tenant.
	TypeExecute = "restore.execute"
)

// HighRiskTypes are the policy types a restore only previews unless the workspace
// enables high-risk restores: compliance policies decide device access (conditional
// access reads them).
var HighRiskTypes = []string{"compliancePolicies"}

// IsHighRisk reports whether policyType is one of HighRiskTypes.
func IsHighRisk(policyType string) bool { return slices.Contains(HighRiskTypes, policyType) }

// The errors callers map to answers.
var (
	// ErrNotFound: no such restore or backup set in the tenant (404).
	ErrNotFound = errors.New("restore: not found")
	// ErrSetNotSealed: the backup set is still being captured (422 backup_set_not_sealed).
	ErrSetNotSealed = errors.New("restore: the backup set is not sealed yet")
	// ErrConfirmation: the typed confirmation is not the tenant's name (422
	// restore_confirmation_mismatch).
	ErrConfirmation = errors.New("restore: type the tenant's name to confirm")
	// ErrNotPreviewed: the preview has not finished (or failed): nothing to execute yet
	// (422 restore_not_previewed).
	ErrNotPreviewed = errors.New("restore: the preview has not finished")
	// ErrHighRisk: the restore holds high-risk policy types and the workspace has not
	// enabled them (422 restore_high_risk_disabled).
	ErrHighRisk = errors.New("restore: high-risk policy types are preview-only in this workspace")
	// ErrAlreadyExecuted: the restore was executed (or is executing) already (422
	// restore_already_executed).
	ErrAlreadyExecuted = errors.New("restore: the restore was executed already")
)

// Status is a restore's state.
type Status string

// The restore statuses.
const (
	StatusPreviewing    Status = "previewing"
	StatusPreviewed     Status = "previewed"
	StatusPreviewFailed Status = "preview_failed"
	StatusExecuting     Status = "executing"
	StatusExecuted      Status = "executed"
	StatusFailed        Status = "failed"
)

// Restore is one restore of a backup set.
type Restore struct {
	ID           uuid.UUID `json:"id"`
	TenantID     uuid.UUID `json:"tenantId"`
	WorkspaceID  uuid.UUID `json:"workspaceId"`
	SetID        uuid.UUID `json:"backupSetId"`
	CreatedBy    uuid.UUID `json:"createdBy"`
	CreatedAt    time.Time `json:"createdAt"`
	Status       Status    `json:"status"`
	PreviewRunID uuid.UUID `json:"previewRunId,omitzero"`
	ExecuteRunID uuid.UUID `json:"executeRunId,omitzero"`
}

// Item is one policy of a restore: its preview diff and, once executed, its result.
type Item struct {
	PolicyType    string   `json:"policyType"`
	PolicyID      string   `json:"policyId"`
	DisplayName   string   `json:"displayName"`
	HighRisk      bool     `json:"highRisk"`
	Diff          string   `json:"diff,omitempty"`
	ChangedFields []string `json:"changedFields"`
	PreviewReason string   `json:"previewReason,omitempty"`
	Result        string   `json:"result,omitempty"`
	ReasonCode    string   `json:"reasonCode,omitempty"`
	Message       string   `json:"message,omitempty"`
	CreatedID     string   `json:"createdId,omitempty"`
	currentSHA    string
}

// Service is the restore module.
type Service struct {
	pool     *pgxpool.Pool
	provider *provider.Service
	backup   *backup.Service
	ten      *tenancy.Service
	ops      *operations.Service
	audit    *audit.Recorder
	log      *slog.Logger
	now      func() time.Time
}

// New returns the restore service; prov may be nil for a process that runs no restores.
func New(pool *pgxpool.Pool, prov *provider.Service, bk *backup.Service, ten *tenancy.Service, ops *operations.Service, rec *audit.Recorder, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, provider: prov, backup: bk, ten: ten, ops: ops, audit: rec, log: log, now: time.Now}
}

// Register installs the handlers of restore.preview and restore.execute.
func (s *Service) Register(ops *operations.Service) {
	ops.Handle(TypePreview, s.Preview)
	ops.Handle(TypeExecute, s.Execute)
}

// restoreContext is the start context of both run types.
type restoreContext struct {
	RestoreID uuid.UUID `json:"restoreId"`
}

func contextOf(id uuid.UUID) json.RawMessage {
	return json.RawMessage(`{"restoreId":"` + id.String() + `"}`)
}

// authorize answers ErrNotFound / operations.ErrForbidden for a user who may not
// restore on tenantID, and returns the tenant.
func (s *Service) authorize(ctx context.Context, in operations.Initiator, tenantID uuid.UUID) (tenancy.Tenant, error) {
	if in.UserID == uuid.Nil {
		t, err := s.ten.Tenant(ctx, tenantID)
		if errors.Is(err, tenancy.ErrNotFound) {
			return tenancy.Tenant{}, ErrNotFound
		}
		return t, err
	}
	t, d, err := s.ten.Authorize(ctx, in.UserID, tenantID, tenancy.CapRestoreExecute)
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("restore: authorize: %w", err)
	}
	switch d {
	case tenancy.Allowed:
		return t, nil
	case tenancy.NotFound:
		return tenancy.Tenant{}, ErrNotFound
	}
	return tenancy.Tenant{}, operations.ErrForbidden
}

// Create makes a restore of the sealed backup set setID of tenantID and starts its
// restore.preview run through the gate. The outcome is the gate's answer for the preview
// (blocked or scope_busy leave the restore preview_failed: create another later).
func (s *Service) Create(ctx context.Context, in operations.Initiator, tenantID, setID uuid.UUID, surface string) (Restore, operations.StartOutcome, error) {
	t, err := s.authorize(ctx, in, tenantID)
	if err != nil {
		return Restore{}, operations.StartOutcome{}, err
	}
	set, err := s.backup.Set(ctx, setID)
	if errors.Is(err, backup.ErrNotFound) || (err == nil && set.TenantID != tenantID) {
		return Restore{}, operations.StartOutcome{}, ErrNotFound
	}
	if err != nil {
		return Restore{}, operations.StartOutcome{}, err
	}
	if set.SealedAt.IsZero() {
		return Restore{}, operations.StartOutcome{}, ErrSetNotSealed
	}
	items, err := s.backup.Items(ctx, setID)
	if err != nil {
		return Restore{}, operations.StartOutcome{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Restore{}, operations.StartOutcome{}, fmt.Errorf("restore: id: %w", err)
	}
	r := Restore{ID: id, TenantID: tenantID, WorkspaceID: t.WorkspaceID, SetID: setID, CreatedBy: in.UserID,
		CreatedAt: s.now().UTC(), Status: StatusPreviewing}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO rs_restores (restore_id, tenant_id, workspace_id, set_id, created_by, created_at, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, r.TenantID, r.WorkspaceID, r.SetID, r.CreatedBy, r.CreatedAt, r.Status); err != nil {
			return err
		}
		for _, it := range items {
			if _, err := tx.Exec(ctx, `INSERT INTO rs_items (restore_id, policy_type, policy_id, display_name, high_risk) VALUES ($1, $2, $3, $4, $5)`,
				r.ID, it.PolicyType, it.PolicyID, it.DisplayName, IsHighRisk(it.PolicyType)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Restore{}, operations.StartOutcome{}, fmt.Errorf("restore: create: %w", err)
	}
	out, err := s.ops.Start(ctx, operations.StartRequest{Type: TypePreview, TenantID: tenantID, Context: contextOf(r.ID),
		Initiator: in, SourceSurface: surface})
	if err != nil {
		_ = s.setStatus(context.WithoutCancel(ctx), r.ID, StatusPreviewFailed)
		return Restore{}, operations.StartOutcome{}, err
	}
	if out.Run != nil {
		r.PreviewRunID = out.Run.ID
	}
	if out.Status == operations.StartBlocked || out.Status == operations.StartScopeBusy {
		r.Status = StatusPreviewFailed
	}
	if _, err := s.pool.Exec(ctx, `UPDATE rs_restores SET preview_run_id = $2, status = CASE WHEN status = 'previewing' THEN $3 ELSE status END
		WHERE restore_id = $1`, r.ID, nullUUID(r.PreviewRunID), r.Status); err != nil {
		return Restore{}, operations.StartOutcome{}, fmt.Errorf("restore: link preview: %w", err)
	}
	return r, out, nil
}

// Settings are a workspace's restore settings.
type Settings struct {
	// HighRiskEnabled lets restores execute high-risk policy types (default off).
	HighRiskEnabled bool `json:"highRiskEnabled"`
}

// WorkspaceSettings returns the restore settings of a workspace (defaults when unset).
func (s *Service) WorkspaceSettings(ctx context.Context, workspaceID uuid.UUID) (Settings, error) {
	var st Settings
	err := s.pool.QueryRow(ctx, `SELECT high_risk_enabled FROM rs_settings WHERE workspace_id = $1`, workspaceID).Scan(&st.HighRiskEnabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("restore: settings: %w", err)
	}
	return st, nil
}

// SetWorkspaceSettings changes a workspace's restore settings as actor (audited with
// before/after). Callers authorize workspace.manage.
func (s *Service) SetWorkspaceSettings(ctx context.Context, actor tenancy.Actor, workspaceID uuid.UUID, st Settings) error {
	before, err := s.WorkspaceSettings(ctx, workspaceID)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO rs_settings (workspace_id, high_risk_enabled) VALUES ($1, $2)
			ON CONFLICT (workspace_id) DO UPDATE SET high_risk_enabled = EXCLUDED.high_risk_enabled`, workspaceID, st.HighRiskEnabled); err != nil {
			return fmt.Errorf("restore: settings: %w", err)
		}
		b, _ := json.Marshal(before)
		a, _ := json.Marshal(st)
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: "restore.settings.changed", Outcome: "succeeded", Actor: string(actor),
			WorkspaceID: workspaceID, Target: "workspace:" + workspaceID.String(), Before: b, After: a})
	})
}

// StartExecute starts the restore.execute run of restore id after checking the typed
// confirmation (the tenant's name), that the preview finished and that high-risk types
// are enabled when the restore holds any. nonce identifies the click (a double-submit of
// one form is one run).
func (s *Service) StartExecute(ctx context.Context, in operations.Initiator, tenantID, id uuid.UUID, confirm, nonce, surface string) (operations.StartOutcome, error) {
	t, err := s.authorize(ctx, in, tenantID)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	r, err := s.Restore(ctx, tenantID, id)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	if confirm != t.Name {
		return operations.StartOutcome{}, ErrConfirmation
	}
	switch r.Status {
	case StatusPreviewed:
	case StatusExecuting, StatusExecuted, StatusFailed:
		if r.ExecuteRunID != uuid.Nil && r.Status == StatusExecuting {
			break // a double-submit: the gate dedupes it by its nonce
		}
		return operations.StartOutcome{}, ErrAlreadyExecuted
	default:
		return operations.StartOutcome{}, ErrNotPreviewed
	}
	items, err := s.Items(ctx, id)
	if err != nil {
		return operations.StartOutcome{}, err
	}
	if slices.ContainsFunc(items, func(it Item) bool { return it.HighRisk }) {
		st, err := s.WorkspaceSettings(ctx, r.WorkspaceID)
		if err != nil {
			return operations.StartOutcome{}, err
		}
		if !st.HighRiskEnabled {
			return operations.StartOutcome{}, ErrHighRisk
		}
	}
	out, err := s.ops.Start(ctx, operations.StartRequest{Type: TypeExecute, TenantID: tenantID, Context: contextOf(id),
		Initiator: in, SourceSurface: surface, Nonce: nonce})
	if err != nil {
		return operations.StartOutcome{}, err
	}
	if out.Run != nil && (out.Status == operations.StartAccepted || out.Status == operations.StartDeduped) {
		if _, err := s.pool.Exec(ctx, `UPDATE rs_restores SET execute_run_id = $2, status = 'executing' WHERE restore_id = $1 AND status = 'previewed'`,
			id, out.Run.ID); err != nil {
			return operations.StartOutcome{}, fmt.Errorf("restore: link execute: %w", err)
		}
	}
	return out, nil
}

const restoreColumns = `restore_id, tenant_id, workspace_id, set_id, created_by, created_at, status, preview_run_id, execute_run_id`

func scanRestore(row pgx.CollectableRow) (Restore, error) {
	var r Restore
	var prev, exec *uuid.UUID
	err := row.Scan(&r.ID, &r.TenantID, &r.WorkspaceID, &r.SetID, &r.CreatedBy, &r.CreatedAt, &r.Status, &prev, &exec)
	if prev != nil {
		r.PreviewRunID = *prev
	}
	if exec != nil {
		r.ExecuteRunID = *exec
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

// Restore returns restore id of tenantID, or ErrNotFound.
func (s *Service) Restore(ctx context.Context, tenantID, id uuid.UUID) (Restore, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+restoreColumns+` FROM rs_restores WHERE restore_id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return Restore{}, fmt.Errorf("restore: %w", err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRestore)
	if errors.Is(err, pgx.ErrNoRows) {
		return Restore{}, ErrNotFound
	}
	if err != nil {
		return Restore{}, fmt.Errorf("restore: %w", err)
	}
	return r, nil
}

// Restores lists a tenant's restores, newest first (at most limit, 1..200, default 50).
func (s *Service) Restores(ctx context.Context, tenantID uuid.UUID, limit int) ([]Restore, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+restoreColumns+` FROM rs_restores WHERE tenant_id = $1 ORDER BY created_at DESC, restore_id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("restore: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanRestore)
	if err != nil {
		return nil, fmt.Errorf("restore: list: %w", err)
	}
	return out, nil
}

// RestoresOfSet lists the restores of a backup set, newest first (at most 50).
func (s *Service) RestoresOfSet(ctx context.Context, setID uuid.UUID) ([]Restore, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+restoreColumns+` FROM rs_restores WHERE set_id = $1 ORDER BY created_at DESC, restore_id DESC LIMIT 50`, setID)
	if err != nil {
		return nil, fmt.Errorf("restore: of set: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanRestore)
	if err != nil {
		return nil, fmt.Errorf("restore: of set: %w", err)
	}
	return out, nil
}

// Items lists a restore's items with their diff and result, by (type, id).
func (s *Service) Items(ctx context.Context, id uuid.UUID) ([]Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT policy_type, policy_id, display_name, high_risk, coalesce(diff, ''), changed_fields, current_sha256,
		preview_reason, coalesce(result, ''), reason_code, message, created_id FROM rs_items WHERE restore_id = $1 ORDER BY policy_type, policy_id`, id)
	if err != nil {
		return nil, fmt.Errorf("restore: items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.PolicyType, &it.PolicyID, &it.DisplayName, &it.HighRisk, &it.Diff, &it.ChangedFields, &it.currentSHA,
			&it.PreviewReason, &it.Result, &it.ReasonCode, &it.Message, &it.CreatedID)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("restore: items: %w", err)
	}
	return out, nil
}

func (s *Service) setStatus(ctx context.Context, id uuid.UUID, st Status) error {
	_, err := s.pool.Exec(ctx, `UPDATE rs_restores SET status = $2 WHERE restore_id = $1`, id, st)
	if err != nil {
		return fmt.Errorf("restore: status: %w", err)
	}
	return nil
}

// load reads the run's restore (its context) for a handler.
func (s *Service) load(ctx context.Context, run *operations.Run) (Restore, error) {
	var c restoreContext
	if err := json.Unmarshal(run.Context, &c); err != nil || c.RestoreID == uuid.Nil {
		return Restore{}, &operations.RunError{Code: failure.RunContextMissing, Message: "The run does not name its restore."}
	}
	r, err := s.Restore(ctx, run.TenantID, c.RestoreID)
	if errors.Is(err, ErrNotFound) {
		return Restore{}, &operations.RunError{Code: failure.RunContextMissing, Message: "The run's restore does not exist."}
	}
	return r, err
}

// volatile are the fields Graph sets itself: never compared, never written back.
var volatile = []string{"id", "@odata.context", "createdDateTime", "lastModifiedDateTime", "version", "supportsScopeTags", "roleScopeTagIds"}

// writable returns payload without its volatile fields.
func writable(payload map[string]any) map[string]any {
	out := maps.Clone(payload)
	for _, k := range volatile {
		delete(out, k)
	}
	return out
}

// changedFields are the non-volatile fields whose values differ between the backup and
// the current object (fields missing on either side count), sorted.
func changedFields(backupObj, current map[string]any) []string {
	b, c := writable(backupObj), writable(current)
	var out []string
	for k, v := range b {
		cv, ok := c[k]
		if !ok || !jsonEqual(v, cv) {
			out = append(out, k)
		}
	}
	for k := range c {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// payload reads item's backed-up payload.
func (s *Service) payload(ctx context.Context, r Restore, it Item) (map[string]any, error) {
	bi, err := s.backup.Item(ctx, r.SetID, it.PolicyType, it.PolicyID)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(bi.Payload, &m); err != nil {
		return nil, fmt.Errorf("restore: payload of %s: %w", it.PolicyID, err)
	}
	return m, nil
}

// Preview is the restore.preview handler: it links the restore to the run, reads each
// item's current object from Graph and stores its diff; it never writes to Graph. An item Graph cannot read (other
// than not found) is diff "error" with its reason and a run failure entry; consent or
// credential failures end the run.
func (s *Service) Preview(ctx context.Context, run *operations.Run, rep *operations.Reporter) (out operations.Outcome, err error) {
	r, err := s.load(ctx, run)
	if err != nil {
		return "", err
	}
	defer func() {
		st := StatusPreviewed
		if err != nil || out == operations.OutcomeFailed {
			st = StatusPreviewFailed
		}
		if serr := s.setStatus(context.WithoutCancel(ctx), r.ID, st); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := rep.Link(ctx, operations.LinkRestore, r.ID); err != nil {
		return "", err
	}
	conn, err := s.provider.Connection(ctx, run)
	if err != nil {
		return "", err
	}
	items, err := s.Items(ctx, r.ID)
	if err != nil {
		return "", err
	}
	if err := rep.Progress(ctx, operations.Counts{"total": int64(len(items))}); err != nil {
		return "", err
	}
	failed := 0
	for _, it := range items {
		bp, err := s.payload(ctx, r, it)
		if err != nil {
			return "", err
		}
		cur, gerr := s.provider.Graph().Get(ctx, conn, it.PolicyType, it.PolicyID)
		diff, reason, sha := "", "", ""
		var fields []string
		switch {
		case gerr == nil:
			fields = changedFields(bp, cur)
			diff = "updated"
			if len(fields) == 0 {
				diff = "unchanged"
			}
			if _, sum, cerr := backup.Canonical(cur); cerr == nil {
				sha = sum
			}
		case graph.KindOf(gerr) == graph.KindNotFound:
			diff = "created"
		case provider.Fatal(graph.KindOf(gerr)) || ctx.Err() != nil:
			return "", s.provider.Failed(ctx, run, gerr)
		default:
			diff, reason = "error", string(provider.ReasonFor(graph.KindOf(gerr)))
			failed++
			if err := rep.Fail(ctx, provider.ReasonFor(graph.KindOf(gerr)), fmt.Sprintf("%s %s: %s", it.PolicyType, it.PolicyID, provider.Message(gerr))); err != nil {
				return "", err
			}
		}
		if fields == nil {
			fields = []string{}
		}
		if _, err := s.pool.Exec(ctx, `UPDATE rs_items SET diff = $4, changed_fields = $5, current_sha256 = $6, preview_reason = $7
			WHERE restore_id = $1 AND policy_type = $2 AND policy_id = $3`, r.ID, it.PolicyType, it.PolicyID, diff, fields, sha, reason); err != nil {
			return "", fmt.Errorf("restore: store diff: %w", err)
		}
		delta := operations.Counts{"processed": 1, "succeeded": 1}
		if diff == "error" {
			delta = operations.Counts{"processed": 1, "failed": 1}
		}
		if err := rep.Progress(ctx, delta); err != nil {
			return "", err
		}
	}
	switch {
	case failed == 0:
		return operations.OutcomeSucceeded, nil
	case failed == len(items):
		return operations.OutcomeFailed, nil
	}
	return operations.OutcomePartiallySucceeded, nil
}

// auditItem is one item in the execute's audit entry: what the tenant held before
// (the preview's diff and the current object's sha256) and what the run left.
type auditItem struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Diff      string `json:"diff,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Result    string `json:"result,omitempty"`
	Reason    string `json:"reasonCode,omitempty"`
	CreatedID string `json:"createdId,omitempty"`
}

// Execute is the restore.execute handler: it links the restore to the run, writes each
// previewed item (created → Create, updated → Update, unchanged → skipped, a preview
// error → skipped), stores per-item results and audits the execution with before/after.
// Throttling is retried by the Graph client; an item Graph refuses is failed with its
// reason code; consent or credential failures end the run.
func (s *Service) Execute(ctx context.Context, run *operations.Run, rep *operations.Reporter) (out operations.Outcome, err error) {
	r, err := s.load(ctx, run)
	if err != nil {
		return "", err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE rs_restores SET execute_run_id = $2, status = 'executing' WHERE restore_id = $1`, r.ID, run.ID); err != nil {
		return "", fmt.Errorf("restore: link run: %w", err)
	}
	if err := rep.Link(ctx, operations.LinkRestore, r.ID); err != nil {
		return "", err
	}
	items, err := s.Items(ctx, r.ID)
	if err != nil {
		return "", err
	}
	before := make([]auditItem, 0, len(items))
	after := make([]auditItem, 0, len(items))
	for _, it := range items {
		before = append(before, auditItem{Type: it.PolicyType, ID: it.PolicyID, Diff: it.Diff, SHA256: it.currentSHA})
	}
	defer func() {
		st := StatusExecuted
		if err != nil || out == operations.OutcomeFailed {
			st = StatusFailed
		}
		dctx := context.WithoutCancel(ctx)
		if serr := s.setStatus(dctx, r.ID, st); serr != nil && err == nil {
			err = serr
		}
		if aerr := s.auditExecute(dctx, run, r, before, after, st); aerr != nil && err == nil {
			err = aerr
		}
	}()
	conn, err := s.provider.Connection(ctx, run)
	if err != nil {
		return "", err
	}
	if err := rep.Progress(ctx, operations.Counts{"total": int64(len(items))}); err != nil {
		return "", err
	}
	failed, written := 0, 0
	for _, it := range items {
		res := auditItem{Type: it.PolicyType, ID: it.PolicyID}
		var gerr error
		switch it.Diff {
		case "unchanged", "error", "":
			res.Result, res.Reason = "skipped", "restore_item_"+cmpOr(it.Diff, "unpreviewed")
		case "created", "updated":
			bp, err := s.payload(ctx, r, it)
			if err != nil {
				return "", err
			}
			if it.Diff == "created" {
				var obj graph.Object
				obj, gerr = s.provider.Graph().Create(ctx, conn, it.PolicyType, writable(bp))
				if gerr == nil {
					res.Result, res.CreatedID = "created", obj.ID()
				}
			} else {
				gerr = s.provider.Graph().Update(ctx, conn, it.PolicyType, it.PolicyID, writable(bp))
				if gerr == nil {
					res.Result = "updated"
				}
			}
		}
		msg := ""
		if gerr != nil {
			if provider.Fatal(graph.KindOf(gerr)) || ctx.Err() != nil {
				after = append(after, auditItem{Type: it.PolicyType, ID: it.PolicyID, Result: "failed", Reason: string(provider.ReasonFor(graph.KindOf(gerr)))})
				return "", s.provider.Failed(ctx, run, gerr)
			}
			res.Result, res.Reason, msg = "failed", string(provider.ReasonFor(graph.KindOf(gerr))), provider.Message(gerr)
			failed++
			if err := rep.Fail(ctx, provider.ReasonFor(graph.KindOf(gerr)), fmt.Sprintf("%s %s: %s", it.PolicyType, it.PolicyID, msg)); err != nil {
				return "", err
			}
		}
		if _, err := s.pool.Exec(ctx, `UPDATE rs_items SET result = $4, reason_code = $5, message = $6, created_id = $7
			WHERE restore_id = $1 AND policy_type = $2 AND policy_id = $3`, r.ID, it.PolicyType, it.PolicyID, res.Result, res.Reason, msg, res.CreatedID); err != nil {
			return "", fmt.Errorf("restore: store result: %w", err)
		}
		after = append(after, res)
		delta := operations.Counts{"processed": 1}
		switch res.Result {
		case "failed":
			delta["failed"] = 1
		case "skipped":
			delta["skipped"] = 1
		default:
			delta["succeeded"], delta[res.Result] = 1, 1
			written++
		}
		if err := rep.Progress(ctx, delta); err != nil {
			return "", err
		}
	}
	switch {
	case failed == 0:
		return operations.OutcomeSucceeded, nil
	case written == 0:
		return operations.OutcomeFailed, nil
	}
	return operations.OutcomePartiallySucceeded, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// auditExecute records the execution: before (each item's preview diff and the current
// object's sha256) and after (each item's result).
func (s *Service) auditExecute(ctx context.Context, run *operations.Run, r Restore, before, after []auditItem, st Status) error {
	b, err := json.Marshal(map[string]any{"status": StatusPreviewed, "items": before})
	if err != nil {
		return fmt.Errorf("restore: audit before: %w", err)
	}
	a, err := json.Marshal(map[string]any{"status": st, "runId": run.ID, "items": after})
	if err != nil {
		return fmt.Errorf("restore: audit after: %w", err)
	}
	actor := "system:restore"
	if run.Initiator.UserID != uuid.Nil {
		actor = run.Initiator.Kind + ":" + run.Initiator.UserID.String()
	}
	outcome := "succeeded"
	if st == StatusFailed {
		outcome = "failed"
	}
	if err := s.audit.Record(ctx, audit.AuditRecorded{Action: "restore.executed", Outcome: outcome, Actor: actor, WorkspaceID: r.WorkspaceID,
		TenantID: r.TenantID, Target: "restore:" + r.ID.String(), Before: b, After: a, IP: run.Initiator.IP, UserAgent: run.Initiator.UserAgent}); err != nil {
		return fmt.Errorf("restore: audit: %w", err)
	}
	return nil
}

func nullUUID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
