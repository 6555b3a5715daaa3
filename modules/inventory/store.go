package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrNotFound: no such snapshot.
var ErrNotFound = errors.New("inventory: not found")

// PolicyTypes are the registry types an inventory sync lists, in listing order.
var PolicyTypes = []string{"deviceConfigurations", "compliancePolicies", "settingsCatalogPolicies"}

// whitelist is, per policy type, the metadata fields an inventory keeps. Nothing else
// of a policy (settings, assignments, secrets) is stored.
var whitelist = map[string][]string{
	"deviceConfigurations":    {"displayName", "description", "lastModifiedDateTime", "version", "@odata.type"},
	"compliancePolicies":      {"displayName", "description", "lastModifiedDateTime", "version", "@odata.type"},
	"settingsCatalogPolicies": {"name", "description", "lastModifiedDateTime", "platforms", "technologies", "settingCount"},
}

// IsPolicyType reports whether t is one of PolicyTypes.
func IsPolicyType(t string) bool {
	_, ok := whitelist[t]
	return ok
}

// Fields returns the whitelisted fields of policyType (a fresh slice).
func Fields(policyType string) []string { return append([]string(nil), whitelist[policyType]...) }

// SnapshotStatus is how complete a snapshot is.
type SnapshotStatus string

// The snapshot statuses.
const (
	SnapshotBuilding SnapshotStatus = "building"
	SnapshotComplete SnapshotStatus = "complete"
	SnapshotPartial  SnapshotStatus = "partial"
	SnapshotFailed   SnapshotStatus = "failed"
)

// TypeCounts are a snapshot's counts of one policy type.
type TypeCounts struct {
	Total     int64 `json:"total"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
}

// Snapshot is one inventory sync's view of a tenant's policies.
type Snapshot struct {
	ID          uuid.UUID
	TenantID    uuid.UUID
	RunID       uuid.UUID
	TakenAt     time.Time
	CompletedAt time.Time // zero while building
	Status      SnapshotStatus
	ItemCount   int
	Types       map[string]TypeCounts
}

// Item is one policy of a snapshot.
type Item struct {
	SnapshotID  uuid.UUID
	PolicyType  string
	PolicyID    string
	DisplayName string
	// Fields are the whitelisted metadata fields present on the policy.
	Fields map[string]any
	// ContentHash is the sha256 (hex) of the canonical JSON of Fields.
	ContentHash string
}

// NewItem builds the item of one listed policy: whitelisted fields only. It returns
// false when the object has no usable id.
func NewItem(policyType string, obj map[string]any) (Item, bool) {
	id, _ := obj["id"].(string)
	if id == "" || len(id) > 200 {
		return Item{}, false
	}
	fields := map[string]any{}
	for _, f := range whitelist[policyType] {
		if v, ok := obj[f]; ok {
			fields[f] = v
		}
	}
	name, _ := fields["displayName"].(string)
	if name == "" {
		name, _ = fields["name"].(string)
	}
	it := Item{PolicyType: policyType, PolicyID: id, DisplayName: name, Fields: fields}
	it.ContentHash = hashFields(fields)
	return it, true
}

// hashFields hashes the canonical JSON of fields (encoding/json sorts map keys).
func hashFields(fields map[string]any) string {
	b, err := json.Marshal(fields)
	if err != nil {
		b = []byte(fmt.Sprint(fields))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

const snapshotColumns = `snapshot_id, tenant_id, run_id, taken_at, completed_at, status, item_count, type_counts`

func scanSnapshot(row pgx.Row) (Snapshot, error) {
	var s Snapshot
	var completed *time.Time
	var status string
	var types []byte
	if err := row.Scan(&s.ID, &s.TenantID, &s.RunID, &s.TakenAt, &completed, &status, &s.ItemCount, &types); err != nil {
		return Snapshot{}, err
	}
	s.TakenAt = s.TakenAt.UTC()
	if completed != nil {
		s.CompletedAt = completed.UTC()
	}
	s.Status = SnapshotStatus(status)
	if err := json.Unmarshal(types, &s.Types); err != nil {
		return Snapshot{}, fmt.Errorf("type counts: %w", err)
	}
	return s, nil
}

func (s *Service) snapshots(ctx context.Context, q string, args ...any) ([]Snapshot, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+snapshotColumns+` FROM inv_snapshots `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("inventory: snapshots: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Snapshot, error) { return scanSnapshot(r) })
	if err != nil {
		return nil, fmt.Errorf("inventory: snapshots: %w", err)
	}
	return out, nil
}

// Snapshots lists a tenant's snapshots, newest first (limit 1..500, default 50).
func (s *Service) Snapshots(ctx context.Context, tenantID uuid.UUID, limit int) ([]Snapshot, error) {
	return s.snapshots(ctx, `WHERE tenant_id = $1 ORDER BY taken_at DESC, snapshot_id DESC LIMIT $2`, tenantID, clampLimit(limit, 50, 500))
}

// LatestComplete returns a tenant's newest n complete snapshots, newest first: the
// ones drift compares.
func (s *Service) LatestComplete(ctx context.Context, tenantID uuid.UUID, n int) ([]Snapshot, error) {
	return s.snapshots(ctx, `WHERE tenant_id = $1 AND status = 'complete' ORDER BY taken_at DESC, snapshot_id DESC LIMIT $2`, tenantID, n)
}

// Snapshot returns one snapshot, or ErrNotFound.
func (s *Service) Snapshot(ctx context.Context, id uuid.UUID) (Snapshot, error) {
	return s.oneSnapshot(ctx, "snapshot "+id.String(), `WHERE snapshot_id = $1`, id)
}

// SnapshotOfRun returns the snapshot an inventory.sync run wrote, or ErrNotFound.
func (s *Service) SnapshotOfRun(ctx context.Context, runID uuid.UUID) (Snapshot, error) {
	return s.oneSnapshot(ctx, "snapshot of run "+runID.String(), `WHERE run_id = $1`, runID)
}

// oneSnapshot returns the first snapshot the clause selects, or ErrNotFound (what
// names the snapshot sought in the error).
func (s *Service) oneSnapshot(ctx context.Context, what, where string, id uuid.UUID) (Snapshot, error) {
	out, err := s.snapshots(ctx, where, id)
	if err != nil {
		return Snapshot{}, err
	}
	if len(out) == 0 {
		return Snapshot{}, fmt.Errorf("inventory: %s: %w", what, ErrNotFound)
	}
	return out[0], nil
}

// ItemQuery selects a page of a snapshot's items, ordered by (policy type, policy id).
type ItemQuery struct {
	// PolicyType restricts to one type ("" for all).
	PolicyType string
	// AfterType and AfterID are the keyset cursor: the last item of the previous page.
	AfterType, AfterID string
	// Limit is 1..1000 (default 100).
	Limit int
}

// Items returns a page of a snapshot's items.
func (s *Service) Items(ctx context.Context, snapshotID uuid.UUID, q ItemQuery) ([]Item, error) {
	return s.items(ctx, `WHERE snapshot_id = $1 AND ($2 = '' OR policy_type = $2) AND (policy_type, policy_id) > ($3, $4)
		ORDER BY policy_type, policy_id LIMIT $5`, snapshotID, q.PolicyType, q.AfterType, q.AfterID, clampLimit(q.Limit, 100, 1000))
}

// AllItems returns every item of a snapshot, ordered by (policy type, policy id).
func (s *Service) AllItems(ctx context.Context, snapshotID uuid.UUID) ([]Item, error) {
	return s.items(ctx, `WHERE snapshot_id = $1 ORDER BY policy_type, policy_id`, snapshotID)
}

func (s *Service) items(ctx context.Context, q string, args ...any) ([]Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT snapshot_id, policy_type, policy_id, display_name, fields, content_hash FROM inv_items `+q, args...)
	if err != nil {
		return nil, fmt.Errorf("inventory: items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.SnapshotID, &it.PolicyType, &it.PolicyID, &it.DisplayName, &it.Fields, &it.ContentHash)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: items: %w", err)
	}
	return out, nil
}

func clampLimit(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// writer writes one snapshot as the sync lists it.
type writer struct {
	s        *Service
	snapshot Snapshot
	seen     map[string]map[string]bool
}

// begin records a building snapshot of run.
func (s *Service) begin(ctx context.Context, tenantID, runID uuid.UUID) (*writer, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("inventory: snapshot id: %w", err)
	}
	snap := Snapshot{ID: id, TenantID: tenantID, RunID: runID, TakenAt: s.now().UTC(), Status: SnapshotBuilding, Types: map[string]TypeCounts{}}
	// A retried run (same run id) starts its snapshot again.
	if _, err := s.pool.Exec(ctx, `DELETE FROM inv_snapshots WHERE run_id = $1`, runID); err != nil {
		return nil, fmt.Errorf("inventory: begin snapshot: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO inv_snapshots (snapshot_id, tenant_id, run_id, taken_at, status) VALUES ($1, $2, $3, $4, 'building')`,
		snap.ID, tenantID, runID, snap.TakenAt); err != nil {
		return nil, fmt.Errorf("inventory: begin snapshot: %w", err)
	}
	return &writer{s: s, snapshot: snap, seen: map[string]map[string]bool{}}, nil
}

// add writes items with one COPY; items already in the snapshot are skipped and
// reported as duplicates.
func (w *writer) add(ctx context.Context, items []Item) (written, duplicates int, err error) {
	rows := make([][]any, 0, len(items))
	for _, it := range items {
		seen := w.seen[it.PolicyType]
		if seen == nil {
			seen = map[string]bool{}
			w.seen[it.PolicyType] = seen
		}
		if seen[it.PolicyID] {
			duplicates++
			continue
		}
		seen[it.PolicyID] = true
		fields, err := json.Marshal(it.Fields)
		if err != nil {
			return 0, 0, fmt.Errorf("inventory: fields of %s: %w", it.PolicyID, err)
		}
		rows = append(rows, []any{[16]byte(w.snapshot.ID), it.PolicyType, it.PolicyID, it.DisplayName, string(fields), it.ContentHash})
	}
	if len(rows) == 0 {
		return 0, duplicates, nil
	}
	n, err := w.s.pool.CopyFrom(ctx, pgx.Identifier{"inv_items"},
		[]string{"snapshot_id", "policy_type", "policy_id", "display_name", "fields", "content_hash"}, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, 0, fmt.Errorf("inventory: write items: %w", err)
	}
	return int(n), duplicates, nil
}

// finish records the snapshot's status and counts.
func (w *writer) finish(ctx context.Context, status SnapshotStatus, types map[string]TypeCounts) error {
	b, err := json.Marshal(types)
	if err != nil {
		return err
	}
	_, err = w.s.pool.Exec(ctx, `UPDATE inv_snapshots SET status = $2, completed_at = $3, type_counts = $4,
			item_count = (SELECT count(*) FROM inv_items WHERE snapshot_id = $1)
		WHERE snapshot_id = $1`, w.snapshot.ID, string(status), w.s.now().UTC(), b)
	if err != nil {
		return fmt.Errorf("inventory: finish snapshot: %w", err)
	}
	return nil
}

// ItemScanSnapshots is how many of a tenant's newest snapshots ItemHistory looks in:
// the cost of an item's page stays bounded however many snapshots the tenant has.
const ItemScanSnapshots = 200

// ItemHistory returns one policy of the tenant as each of its newest ItemScanSnapshots
// snapshots holds it (those that contain it), newest snapshot first; none when no
// snapshot holds it.
func (s *Service) ItemHistory(ctx context.Context, tenantID uuid.UUID, policyType, policyID string) ([]Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.snapshot_id, i.policy_type, i.policy_id, i.display_name, i.fields, i.content_hash
		FROM (SELECT snapshot_id, taken_at FROM inv_snapshots WHERE tenant_id = $1
		      ORDER BY taken_at DESC, snapshot_id DESC LIMIT $4) sn
		JOIN inv_items i ON i.snapshot_id = sn.snapshot_id AND i.policy_type = $2 AND i.policy_id = $3
		ORDER BY sn.taken_at DESC, sn.snapshot_id DESC`, tenantID, policyType, policyID, ItemScanSnapshots)
	if err != nil {
		return nil, fmt.Errorf("inventory: item history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.SnapshotID, &it.PolicyType, &it.PolicyID, &it.DisplayName, &it.Fields, &it.ContentHash)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: item history: %w", err)
	}
	return out, nil
}
