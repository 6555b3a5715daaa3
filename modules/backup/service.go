// Package backup is backup_set.add_policies: it captures the full payload of each
// policy the start context names (graph.Client.Get) into a new backup set, sealed when
// the run ends; the database refuses to change or delete a sealed set's items.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, a run-type module:
// it imports graph, operations, provider and inventory, and must not import projections,
// modules/monolith, web or cmd/.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
)

// ErrNotFound: no such backup set or item.
var ErrNotFound = errors.New("backup: not found")

// MaxPolicies bounds the policies of one backup_set.add_policies run.
const MaxPolicies = 500

// PolicyRef names one policy to back up.
type PolicyRef struct {
	// Type is one of inventory.PolicyTypes.
	Type string `json:"type"`
	// ID is the policy's Graph id.
	ID string `json:"id"`
}

// Context is the start context of backup_set.add_policies.
type Context struct {
	// Name labels the backup set ("" gives a dated default).
	Name string `json:"name,omitempty"`
	// Policies are the policies to capture: 1..MaxPolicies, no duplicates.
	Policies []PolicyRef `json:"policies"`
}

// ParseContext decodes and validates a backup_set.add_policies context.
func ParseContext(raw json.RawMessage) (Context, error) {
	var c Context
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Context{}, fmt.Errorf("backup context: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) { // More misses a stray ] or }
		return Context{}, errors.New("backup context: a single JSON object is expected")
	}
	if len(c.Policies) == 0 {
		return Context{}, errors.New("backup context: name at least one policy in \"policies\"")
	}
	if len(c.Policies) > MaxPolicies {
		return Context{}, fmt.Errorf("backup context: at most %d policies per run", MaxPolicies)
	}
	if utf8.RuneCountInString(c.Name) > 200 {
		return Context{}, errors.New("backup context: name longer than 200 characters")
	}
	seen := map[PolicyRef]bool{}
	for i, p := range c.Policies {
		if !inventory.IsPolicyType(p.Type) {
			return Context{}, fmt.Errorf("backup context: policies[%d]: type %q is not one of %s", i, p.Type, strings.Join(inventory.PolicyTypes, ", "))
		}
		if p.ID == "" || len(p.ID) > 200 || strings.ContainsAny(p.ID, "/?#") {
			return Context{}, fmt.Errorf("backup context: policies[%d]: id must be a Graph object id", i)
		}
		if seen[p] {
			return Context{}, fmt.Errorf("backup context: policies[%d]: %s %s is named twice", i, p.Type, p.ID)
		}
		seen[p] = true
	}
	return c, nil
}

// Service is the backup module.
type Service struct {
	pool     *pgxpool.Pool
	provider *provider.Service
	log      *slog.Logger
	now      func() time.Time
	// store, audit, ops and inv serve the schedules (Wire).
	store *eventstore.Store
	audit *audit.Recorder
	ops   *operations.Service
	inv   *inventory.Service
}

// New returns the backup service; prov may be nil for a read-only service.
func New(pool *pgxpool.Pool, prov *provider.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, provider: prov, log: log, now: time.Now}
}

// Register installs the context validator and the handler of backup_set.add_policies
// and the handler of a schedule's runs (scheduled, run now, retry).
func (s *Service) Register(ops *operations.Service) {
	ops.ValidateContext("backup_set.add_policies", func(raw json.RawMessage) error {
		_, err := ParseContext(raw)
		return err
	})
	ops.Handle("backup_set.add_policies", s.AddPolicies)
	for _, typ := range ScheduleRunTypes {
		ops.Handle(typ, s.RunSchedule)
	}
}

// AddPolicies is the backup_set.add_policies handler: one set per run, one item per
// policy captured; a policy Graph cannot return is a failure entry (the run ends
// partially succeeded), consent or credential failures end the run. The set is sealed
// however the run ends.
func (s *Service) AddPolicies(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
	c, err := ParseContext(run.Context)
	if err != nil {
		return "", &operations.RunError{Code: failure.ValidationFailed, Message: err.Error()}
	}
	return s.capture(ctx, run, rep, c.Name, c.Policies, nil)
}

// capture captures policies into a new set of run (named name, of schedule sc when
// set), links and seals it; a schedule's run that captured something then applies the
// schedule's retention.
func (s *Service) capture(ctx context.Context, run *operations.Run, rep *operations.Reporter, name string, policies []PolicyRef, sc *Schedule) (operations.Outcome, error) {
	conn, err := s.provider.Connection(ctx, run)
	if err != nil {
		return "", err
	}
	scheduleID := uuid.Nil
	if sc != nil {
		scheduleID = sc.ID
	}
	setID, err := s.createSet(ctx, run, name, scheduleID)
	if err != nil {
		return "", err
	}
	sealed := false
	defer func() {
		if sealed {
			return
		}
		if err := s.seal(context.WithoutCancel(ctx), setID); err != nil {
			s.log.Error("sealing the backup set failed", "run", run.ID, "set", setID, "error", failure.Sanitize(err.Error()))
		}
	}()
	if err := rep.Link(ctx, operations.LinkBackupSet, setID); err != nil {
		return "", err
	}
	if err := rep.Progress(ctx, operations.Counts{"total": int64(len(policies))}); err != nil {
		return "", err
	}
	var firstErr error
	captured := 0
	for _, p := range policies {
		obj, err := s.provider.Graph().Get(ctx, conn, p.Type, p.ID)
		if err == nil {
			err = s.addItem(ctx, setID, p, obj)
			if err != nil {
				return "", err // the database: not the policy's fault
			}
			captured++
			if err := rep.Progress(ctx, operations.Counts{"processed": 1, "succeeded": 1, "items": 1}); err != nil {
				return "", err
			}
			continue
		}
		var ge *graph.Error
		if !errors.As(err, &ge) && ctx.Err() == nil {
			return "", err
		}
		if provider.Fatal(graph.KindOf(err)) || ctx.Err() != nil {
			return "", s.provider.Failed(ctx, run, err)
		}
		if firstErr == nil {
			firstErr = err
		}
		if err := rep.Progress(ctx, operations.Counts{"processed": 1, "failed": 1}); err != nil {
			return "", err
		}
		if err := rep.Fail(ctx, provider.ReasonFor(graph.KindOf(err)), fmt.Sprintf("%s %s: %s", p.Type, p.ID, provider.Message(err))); err != nil {
			return "", err
		}
	}
	if captured == 0 {
		return "", provider.RunError(firstErr)
	}
	if err := s.seal(ctx, setID); err != nil {
		return "", fmt.Errorf("backup: seal: %w", err)
	}
	sealed = true
	if sc != nil {
		deleted, err := s.retain(ctx, sc.ID, sc.Retention)
		if err != nil {
			return "", err
		}
		if deleted > 0 {
			if err := rep.Progress(ctx, operations.Counts{"deleted": deleted}); err != nil {
				return "", err
			}
		}
	}
	return operations.OutcomeSucceeded, nil
}

func (s *Service) createSet(ctx context.Context, run *operations.Run, name string, scheduleID uuid.UUID) (uuid.UUID, error) {
	now := s.now().UTC()
	if name == "" {
		name = "Backup " + now.Format("2006-01-02 15:04 UTC")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("backup: set id: %w", err)
	}
	var sched *uuid.UUID
	if scheduleID != uuid.Nil {
		sched = &scheduleID
	}
	// A retried run (same run id) whose set is still open continues it.
	err = s.pool.QueryRow(ctx, `INSERT INTO bk_sets (set_id, tenant_id, run_id, name, created_at, schedule_id) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (run_id) DO UPDATE SET name = bk_sets.name RETURNING set_id`, id, run.TenantID, run.ID, name, now, sched).Scan(&id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("backup: create set: %w", err)
	}
	return id, nil
}

// Canonical returns the canonical JSON of a payload (keys sorted, no insignificant
// space) and its sha256 (hex): what an item stores.
func Canonical(payload map[string]any) ([]byte, string, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

func (s *Service) addItem(ctx context.Context, setID uuid.UUID, p PolicyRef, obj graph.Object) error {
	b, sum, err := Canonical(obj)
	if err != nil {
		return fmt.Errorf("backup: payload of %s: %w", p.ID, err)
	}
	name, _ := obj["displayName"].(string)
	if name == "" {
		name, _ = obj["name"].(string)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO bk_items (set_id, policy_type, policy_id, display_name, payload, sha256, captured_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (set_id, policy_type, policy_id) DO NOTHING`,
		setID, p.Type, p.ID, name, string(b), sum, s.now().UTC())
	if err != nil {
		return fmt.Errorf("backup: store %s: %w", p.ID, err)
	}
	return nil
}

func (s *Service) seal(ctx context.Context, setID uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE bk_sets SET sealed_at = $2, item_count = (SELECT count(*) FROM bk_items WHERE set_id = $1)
		WHERE set_id = $1 AND sealed_at IS NULL`, setID, s.now().UTC())
	return err
}

// Set is one backup set.
type Set struct {
	ID        uuid.UUID
	TenantID  uuid.UUID
	RunID     uuid.UUID
	Name      string
	CreatedAt time.Time
	SealedAt  time.Time // zero while the run captures
	ItemCount int
}

// Item is one captured policy; Payload is only filled by Item (not by Items).
type Item struct {
	SetID       uuid.UUID
	PolicyType  string
	PolicyID    string
	DisplayName string
	SHA256      string
	CapturedAt  time.Time
	Payload     json.RawMessage
}

const setColumns = `set_id, tenant_id, run_id, name, created_at, sealed_at, item_count`

func scanSet(r pgx.CollectableRow) (Set, error) {
	var st Set
	var sealed *time.Time
	err := r.Scan(&st.ID, &st.TenantID, &st.RunID, &st.Name, &st.CreatedAt, &sealed, &st.ItemCount)
	st.CreatedAt = st.CreatedAt.UTC()
	if sealed != nil {
		st.SealedAt = sealed.UTC()
	}
	return st, err
}

func (s *Service) oneSet(ctx context.Context, where string, arg any) (Set, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+setColumns+` FROM bk_sets WHERE `+where, arg)
	if err != nil {
		return Set{}, fmt.Errorf("backup: set: %w", err)
	}
	st, err := pgx.CollectExactlyOneRow(rows, scanSet)
	if errors.Is(err, pgx.ErrNoRows) {
		return Set{}, fmt.Errorf("backup: set: %w", ErrNotFound)
	}
	if err != nil {
		return Set{}, fmt.Errorf("backup: set: %w", err)
	}
	return st, nil
}

// Set returns one backup set, or ErrNotFound.
func (s *Service) Set(ctx context.Context, setID uuid.UUID) (Set, error) {
	return s.oneSet(ctx, `set_id = $1`, setID)
}

// SetOfRun returns the set a backup_set.add_policies run captured into, or ErrNotFound.
func (s *Service) SetOfRun(ctx context.Context, runID uuid.UUID) (Set, error) {
	return s.oneSet(ctx, `run_id = $1`, runID)
}

// Sets lists a tenant's backup sets, newest first (limit 1..500, default 50).
func (s *Service) Sets(ctx context.Context, tenantID uuid.UUID, limit int) ([]Set, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT `+setColumns+` FROM bk_sets WHERE tenant_id = $1 ORDER BY created_at DESC, set_id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("backup: sets: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSet)
	if err != nil {
		return nil, fmt.Errorf("backup: sets: %w", err)
	}
	return out, nil
}

// Items lists a set's items without payloads, ordered by (policy type, policy id).
func (s *Service) Items(ctx context.Context, setID uuid.UUID) ([]Item, error) {
	rows, err := s.pool.Query(ctx, `SELECT set_id, policy_type, policy_id, display_name, sha256, captured_at FROM bk_items
		WHERE set_id = $1 ORDER BY policy_type, policy_id`, setID)
	if err != nil {
		return nil, fmt.Errorf("backup: items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		err := r.Scan(&it.SetID, &it.PolicyType, &it.PolicyID, &it.DisplayName, &it.SHA256, &it.CapturedAt)
		it.CapturedAt = it.CapturedAt.UTC()
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("backup: items: %w", err)
	}
	return out, nil
}

// Item returns one item with its payload, or ErrNotFound.
func (s *Service) Item(ctx context.Context, setID uuid.UUID, policyType, policyID string) (Item, error) {
	it := Item{SetID: setID, PolicyType: policyType, PolicyID: policyID}
	var payload []byte
	err := s.pool.QueryRow(ctx, `SELECT display_name, sha256, captured_at, payload FROM bk_items
		WHERE set_id = $1 AND policy_type = $2 AND policy_id = $3`, setID, policyType, policyID).
		Scan(&it.DisplayName, &it.SHA256, &it.CapturedAt, &payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, fmt.Errorf("backup: item %s %s: %w", policyType, policyID, ErrNotFound)
	}
	if err != nil {
		return Item{}, fmt.Errorf("backup: item: %w", err)
	}
	it.CapturedAt = it.CapturedAt.UTC()
	it.Payload = payload
	return it, nil
}

// Verify reports whether the item's payload still hashes to its sha256 (the payload
// re-canonicalised: jsonb does not keep the captured bytes).
func (it Item) Verify() bool {
	var m map[string]any
	if err := json.Unmarshal(it.Payload, &m); err != nil {
		return false
	}
	_, sum, err := Canonical(m)
	return err == nil && sum == it.SHA256
}

// ItemScanSets is how many of a tenant's newest sets SetsWithItem looks in: the cost
// stays bounded however many sets the tenant has.
const ItemScanSets = 200

// SetsWithItem returns the ids of the tenant's sets, among its newest ItemScanSets,
// that captured the policy (type, id), newest first.
func (s *Service) SetsWithItem(ctx context.Context, tenantID uuid.UUID, policyType, policyID string) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `SELECT st.set_id
		FROM (SELECT set_id, created_at FROM bk_sets WHERE tenant_id = $1
		      ORDER BY created_at DESC, set_id DESC LIMIT $4) st
		WHERE EXISTS (SELECT 1 FROM bk_items i WHERE i.set_id = st.set_id AND i.policy_type = $2 AND i.policy_id = $3)
		ORDER BY st.created_at DESC, st.set_id DESC`, tenantID, policyType, policyID, ItemScanSets)
	if err != nil {
		return nil, fmt.Errorf("backup: sets with item: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("backup: sets with item: %w", err)
	}
	return ids, nil
}
