package drift

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Lifecycle is one consolidated drift finding: every occurrence of (policy, field key)
// in a tenant's drift reports folded into one row.
type Lifecycle struct {
	PolicyType  string
	PolicyID    string
	FieldKey    string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	// Status is "open" (in the tenant's newest report) or "resolved".
	Status      string
	Occurrences int
	LastRunID   uuid.UUID
}

// BackfillCounts are one tenant's backfill (or preflight) figures.
type BackfillCounts struct {
	// Total is the findings scanned: consolidated findings the reports yield, plus
	// stored lifecycle rows no report has any more.
	Total int64
	// Changed is the findings whose lifecycle row is (or would be) inserted, updated
	// (duplicates consolidated, first/last seen, open/resolved) or removed.
	Changed int64
}

// lifecycleDiff computes, for tenant $1, the consolidated findings its drift reports
// yield (target) and whether each differs from the stored lifecycle row (diff).
const lifecycleDiff = `
WITH occ AS (
    SELECT f.policy_type, f.policy_id,
           CASE WHEN c.value IS NOT NULL THEN coalesce(c.value->>'field', '@changed') ELSE '@' || f.kind END AS field_key,
           r.generated_at, r.run_id
    FROM drift_findings f
    JOIN drift_reports r ON r.run_id = f.run_id
    LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN f.kind = 'changed' THEN f.changes ELSE '[]'::jsonb END) c ON true
    WHERE f.tenant_id = $1
), latest AS (
    SELECT run_id FROM drift_reports WHERE tenant_id = $1 ORDER BY generated_at DESC, run_id DESC LIMIT 1
), target AS (
    SELECT policy_type, policy_id, field_key, min(generated_at) AS first_seen_at, max(generated_at) AS last_seen_at,
           count(*)::int AS occurrences,
           (array_agg(run_id ORDER BY generated_at DESC, run_id DESC))[1] AS last_run_id
    FROM occ GROUP BY policy_type, policy_id, field_key
), diff AS (
    SELECT t.*, CASE WHEN t.last_run_id = (SELECT run_id FROM latest) THEN 'open' ELSE 'resolved' END AS status,
           l.tenant_id IS NULL AS missing, l.first_seen_at AS l_first, l.last_seen_at AS l_last, l.status AS l_status,
           l.occurrences AS l_occ, l.last_run_id AS l_run
    FROM target t
    LEFT JOIN drift_finding_lifecycle l ON l.tenant_id = $1 AND l.policy_type = t.policy_type
         AND l.policy_id = t.policy_id AND l.field_key = t.field_key
), changed AS (
    SELECT * FROM diff WHERE missing OR l_first <> first_seen_at OR l_last <> last_seen_at OR l_status <> status
           OR l_occ <> occurrences OR l_run <> last_run_id
), stale AS (
    SELECT l.policy_type, l.policy_id, l.field_key FROM drift_finding_lifecycle l
    WHERE l.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM target t
          WHERE t.policy_type = l.policy_type AND t.policy_id = l.policy_id AND t.field_key = l.field_key)
)`

// PreflightLifecycle says what BackfillLifecycle would do for the tenant, writing nothing.
func (s *Service) PreflightLifecycle(ctx context.Context, tenantID uuid.UUID) (BackfillCounts, error) {
	var c BackfillCounts
	var stale int64
	err := s.pool.QueryRow(ctx, lifecycleDiff+`
		SELECT (SELECT count(*) FROM diff), (SELECT count(*) FROM changed), (SELECT count(*) FROM stale)`, tenantID).
		Scan(&c.Total, &c.Changed, &stale)
	if err != nil {
		return BackfillCounts{}, fmt.Errorf("drift: lifecycle preflight: %w", err)
	}
	c.Total += stale
	c.Changed += stale
	return c, nil
}

// BackfillLifecycle consolidates the tenant's drift findings into their lifecycle rows
// (first/last seen, open/resolved, one row per policy and field key) in one
// transaction, under a per-tenant advisory lock so two backfills of one tenant never
// interleave. It is idempotent: a second call changes nothing and reports Changed 0.
func (s *Service) BackfillLifecycle(ctx context.Context, tenantID uuid.UUID) (BackfillCounts, error) {
	var c BackfillCounts
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('drift.lifecycle:' || $1::text, 0))`, tenantID); err != nil {
			return err
		}
		var scanned int64
		if err := tx.QueryRow(ctx, lifecycleDiff+` SELECT count(*) FROM diff`, tenantID).Scan(&scanned); err != nil {
			return err
		}
		up, err := tx.Exec(ctx, lifecycleDiff+`
			INSERT INTO drift_finding_lifecycle (tenant_id, policy_type, policy_id, field_key, first_seen_at, last_seen_at, status, occurrences, last_run_id)
			SELECT $1, policy_type, policy_id, field_key, first_seen_at, last_seen_at, status, occurrences, last_run_id FROM changed
			ON CONFLICT (tenant_id, policy_type, policy_id, field_key) DO UPDATE SET first_seen_at = EXCLUDED.first_seen_at,
				last_seen_at = EXCLUDED.last_seen_at, status = EXCLUDED.status, occurrences = EXCLUDED.occurrences,
				last_run_id = EXCLUDED.last_run_id`, tenantID)
		if err != nil {
			return err
		}
		del, err := tx.Exec(ctx, lifecycleDiff+`
			DELETE FROM drift_finding_lifecycle l USING stale s WHERE l.tenant_id = $1
				AND l.policy_type = s.policy_type AND l.policy_id = s.policy_id AND l.field_key = s.field_key`, tenantID)
		if err != nil {
			return err
		}
		c = BackfillCounts{Total: scanned + del.RowsAffected(), Changed: up.RowsAffected() + del.RowsAffected()}
		return nil
	})
	if err != nil {
		return BackfillCounts{}, fmt.Errorf("drift: lifecycle backfill of tenant %s: %w", tenantID, err)
	}
	return c, nil
}

// FindingLifecycles returns the tenant's consolidated findings, ordered by policy and
// field key.
func (s *Service) FindingLifecycles(ctx context.Context, tenantID uuid.UUID) ([]Lifecycle, error) {
	rows, err := s.pool.Query(ctx, `SELECT policy_type, policy_id, field_key, first_seen_at, last_seen_at, status, occurrences, last_run_id
		FROM drift_finding_lifecycle WHERE tenant_id = $1 ORDER BY policy_type, policy_id, field_key`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("drift: lifecycles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lifecycle, error) {
		var l Lifecycle
		err := r.Scan(&l.PolicyType, &l.PolicyID, &l.FieldKey, &l.FirstSeenAt, &l.LastSeenAt, &l.Status, &l.Occurrences, &l.LastRunID)
		l.FirstSeenAt, l.LastSeenAt = l.FirstSeenAt.UTC(), l.LastSeenAt.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("drift: lifecycles: %w", err)
	}
	return out, nil
}
