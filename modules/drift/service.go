// Package drift is drift.generate: it compares a tenant's latest two complete
// inventory snapshots (through the inventory module's Go API) and stores the policies
// that were added, removed or changed, with the changed fields, keyed by the run; it
// then brings the findings' lifecycle up to date (lifecycle.go: one finding per tenant,
// policy and field key, first/last seen, open/resolved), which the platform runbook
// findings.lifecycle.backfill repairs for findings written before it existed.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, a run-type module:
// it imports operations and inventory (its Go API, never its tables), and must not
// import projections, modules/monolith, web or cmd/.
package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
)

// ErrNotFound: no drift report for the run.
var ErrNotFound = errors.New("drift: not found")

// Service is the drift module.
type Service struct {
	pool      *pgxpool.Pool
	inventory *inventory.Service
	log       *slog.Logger
	now       func() time.Time
}

// New returns the drift service.
func New(pool *pgxpool.Pool, inv *inventory.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, inventory: inv, log: log, now: time.Now}
}

// Register installs the drift.generate precondition (two complete inventory
// snapshots, else the start is blocked with drift_baseline_missing) and handler.
func (s *Service) Register(ops *operations.Service) {
	ops.Precondition("drift.generate", s.Precondition)
	ops.Handle("drift.generate", s.Generate)
}

// Precondition blocks a drift start while the tenant has fewer than two complete
// inventory snapshots.
func (s *Service) Precondition(ctx context.Context, req operations.StartRequest) (*operations.RunError, error) {
	n, err := s.inventory.CountComplete(ctx, req.TenantID)
	if err != nil {
		return nil, fmt.Errorf("drift: count snapshots: %w", err)
	}
	if n < 2 {
		return &operations.RunError{Code: failure.DriftBaselineMissing,
			Message: fmt.Sprintf("Drift compares the latest two successful inventory snapshots; this tenant has %d.", n)}, nil
	}
	return nil, nil
}

// Generate is the drift.generate handler.
func (s *Service) Generate(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
	snaps, err := s.inventory.LatestComplete(ctx, run.TenantID, 2)
	if err != nil {
		return "", err
	}
	if len(snaps) < 2 {
		return "", &operations.RunError{Code: failure.DriftBaselineMissing,
			Message: fmt.Sprintf("Drift compares the latest two successful inventory snapshots; this tenant has %d.", len(snaps))}
	}
	current, baseline := snaps[0], snaps[1]
	curItems, err := s.inventory.AllItems(ctx, current.ID)
	if err != nil {
		return "", err
	}
	baseItems, err := s.inventory.AllItems(ctx, baseline.ID)
	if err != nil {
		return "", err
	}
	findings := Diff(baseItems, curItems)
	compared := map[key]bool{}
	for _, it := range baseItems {
		compared[key{it.PolicyType, it.PolicyID}] = true
	}
	for _, it := range curItems {
		compared[key{it.PolicyType, it.PolicyID}] = true
	}
	counts := map[Kind]int{}
	for _, f := range findings {
		counts[f.Kind]++
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM drift_reports WHERE run_id = $1`, run.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO drift_reports (run_id, tenant_id, baseline_snapshot_id, current_snapshot_id, generated_at, added, removed, changed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, run.ID, run.TenantID, baseline.ID, current.ID, s.now().UTC(),
			counts[Added], counts[Removed], counts[Changed]); err != nil {
			return err
		}
		rows := make([][]any, len(findings))
		for i, f := range findings {
			changes := f.Changes
			if changes == nil {
				changes = []Change{}
			}
			b, err := json.Marshal(changes)
			if err != nil {
				return err
			}
			rows[i] = []any{[16]byte(run.ID), [16]byte(run.TenantID), f.PolicyType, f.PolicyID, f.DisplayName, string(f.Kind), string(b)}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"drift_findings"},
			[]string{"run_id", "tenant_id", "policy_type", "policy_id", "display_name", "kind", "changes"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("drift: store findings: %w", err)
	}
	n := int64(len(compared))
	if err := rep.Progress(ctx, operations.Counts{"total": n, "processed": n, "succeeded": n, "items": int64(len(findings)),
		"created": int64(counts[Added]), "deleted": int64(counts[Removed]), "updated": int64(counts[Changed])}); err != nil {
		return "", err
	}
	if err := rep.Link(ctx, operations.LinkDriftFindings, run.ID); err != nil {
		return "", err
	}
	// Keep the findings' lifecycle current (first/last seen, open/resolved). A failure
	// here leaves the report intact: the lifecycle backfill runbook repairs it.
	if _, err := s.BackfillLifecycle(ctx, run.TenantID); err != nil {
		s.log.Warn("drift: lifecycle not updated; the findings lifecycle backfill repairs it", "run", run.ID, "error", operations.Sanitize(err.Error()))
	}
	s.log.Info("drift generated", "run", run.ID, "added", counts[Added], "removed", counts[Removed], "changed", counts[Changed])
	return operations.OutcomeSucceeded, nil
}

// Report is one drift generation's summary.
type Report struct {
	RunID              uuid.UUID
	TenantID           uuid.UUID
	BaselineSnapshotID uuid.UUID
	CurrentSnapshotID  uuid.UUID
	GeneratedAt        time.Time
	Added              int
	Removed            int
	Changed            int
}

const reportColumns = `run_id, tenant_id, baseline_snapshot_id, current_snapshot_id, generated_at, added, removed, changed`

func scanReport(r pgx.CollectableRow) (Report, error) {
	var rp Report
	err := r.Scan(&rp.RunID, &rp.TenantID, &rp.BaselineSnapshotID, &rp.CurrentSnapshotID, &rp.GeneratedAt, &rp.Added, &rp.Removed, &rp.Changed)
	rp.GeneratedAt = rp.GeneratedAt.UTC()
	return rp, err
}

// Report returns the drift report of a run, or ErrNotFound.
func (s *Service) Report(ctx context.Context, runID uuid.UUID) (Report, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+reportColumns+` FROM drift_reports WHERE run_id = $1`, runID)
	if err != nil {
		return Report{}, fmt.Errorf("drift: report: %w", err)
	}
	rp, err := pgx.CollectExactlyOneRow(rows, scanReport)
	if errors.Is(err, pgx.ErrNoRows) {
		return Report{}, fmt.Errorf("drift: report of run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Report{}, fmt.Errorf("drift: report: %w", err)
	}
	return rp, nil
}

// Reports lists a tenant's drift reports, newest first (limit 1..500, default 50).
func (s *Service) Reports(ctx context.Context, tenantID uuid.UUID, limit int) ([]Report, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+reportColumns+` FROM drift_reports WHERE tenant_id = $1
		ORDER BY generated_at DESC, run_id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("drift: reports: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanReport)
	if err != nil {
		return nil, fmt.Errorf("drift: reports: %w", err)
	}
	return out, nil
}

// FindingsByRun returns a drift run's findings, ordered by (policy type, policy id).
func (s *Service) FindingsByRun(ctx context.Context, runID uuid.UUID) ([]Finding, error) {
	rows, err := s.pool.Query(ctx, `SELECT policy_type, policy_id, display_name, kind, changes FROM drift_findings
		WHERE run_id = $1 ORDER BY policy_type, policy_id`, runID)
	if err != nil {
		return nil, fmt.Errorf("drift: findings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Finding, error) {
		var f Finding
		var kind string
		var changes []byte
		if err := r.Scan(&f.PolicyType, &f.PolicyID, &f.DisplayName, &kind, &changes); err != nil {
			return Finding{}, err
		}
		f.Kind = Kind(kind)
		if err := json.Unmarshal(changes, &f.Changes); err != nil {
			return Finding{}, err
		}
		if len(f.Changes) == 0 {
			f.Changes = nil
		}
		return f, nil
	})
	if err != nil {
		return nil, fmt.Errorf("drift: findings: %w", err)
	}
	return out, nil
}

// LatestFindings returns the findings of the tenant's newest drift report (none when
// drift never ran) and that report.
func (s *Service) LatestFindings(ctx context.Context, tenantID uuid.UUID) (Report, []Finding, error) {
	reps, err := s.Reports(ctx, tenantID, 1)
	if err != nil || len(reps) == 0 {
		return Report{}, nil, err
	}
	f, err := s.FindingsByRun(ctx, reps[0].RunID)
	return reps[0], f, err
}
