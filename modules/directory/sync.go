// Package directory keeps per-tenant caches of Entra groups and role definitions,
// refreshed by directory.groups.sync and directory.role_definitions.sync, and answers
// the pickers' searches from them (never from Graph at render time).
package directory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/provider"
)

// Service is the directory module.
type Service struct {
	pool     *pgxpool.Pool
	provider *provider.Service
	log      *slog.Logger
	now      func() time.Time
}

// New returns the directory service; prov may be nil for a read-only service.
func New(pool *pgxpool.Pool, prov *provider.Service, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, provider: prov, log: log, now: time.Now}
}

// Register installs the directory.groups.sync and directory.role_definitions.sync handlers.
func (s *Service) Register(ops *operations.Service) {
	ops.Handle("directory.groups.sync", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		return s.sync(ctx, run, rep, groupsKind)
	})
	ops.Handle("directory.role_definitions.sync", func(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
		return s.sync(ctx, run, rep, rolesKind)
	})
}

// kind is one cached object type.
type kind struct {
	name      string // dir_sync_state.kind
	graphType string
	table     string
	link      operations.LinkKind
	upsert    string
	// columns turns a page into the upsert's array arguments (after tenant, run, time)
	// and says how many objects were kept and which were unusable.
	columns func(page []graph.Object, seen map[string]bool) (args []any, kept, bad int)
}

// upsertTail counts what an upsert created and changed: prev is the rows before the
// statement (a CTE sees the snapshot the statement started with).
const upsertTail = `
SELECT count(*) FILTER (WHERE p.object_id IS NULL),
       count(*) FILTER (WHERE p.object_id IS NOT NULL AND p.content_hash <> up.content_hash)
FROM up LEFT JOIN prev p USING (object_id)`

var groupsKind = kind{
	name: "groups", graphType: "groups", table: "dir_groups", link: operations.LinkDirectoryGroups,
	upsert: `WITH input AS (
	SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::bool[], $10::text[], $11::text[])
		AS i(object_id, display_name, description, mail, mail_enabled, security_enabled, group_types, content_hash)
), prev AS (
	SELECT g.object_id, g.content_hash FROM dir_groups g JOIN input i USING (object_id) WHERE g.tenant_id = $1
), up AS (
	INSERT INTO dir_groups (tenant_id, object_id, display_name, description, mail, mail_enabled, security_enabled,
		group_types, content_hash, run_id, last_synced_at)
	SELECT $1, object_id, display_name, description, mail, mail_enabled, security_enabled,
		ARRAY(SELECT jsonb_array_elements_text(group_types::jsonb)), content_hash, $2, $3 FROM input
	ON CONFLICT (tenant_id, object_id) DO UPDATE SET display_name = EXCLUDED.display_name,
		description = EXCLUDED.description, mail = EXCLUDED.mail, mail_enabled = EXCLUDED.mail_enabled,
		security_enabled = EXCLUDED.security_enabled, group_types = EXCLUDED.group_types,
		content_hash = EXCLUDED.content_hash, run_id = EXCLUDED.run_id, last_synced_at = EXCLUDED.last_synced_at
	RETURNING object_id, content_hash
)` + upsertTail,
	columns: func(page []graph.Object, seen map[string]bool) ([]any, int, int) {
		n := len(page)
		ids, names, descs, mails := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		mailEn, secEn := make([]bool, 0, n), make([]bool, 0, n)
		types, hashes := make([]string, 0, n), make([]string, 0, n)
		bad := 0
		for _, o := range page {
			id, name := str(o, "id"), str(o, "displayName")
			if id == "" || name == "" {
				bad++
				continue
			}
			if seen[id] {
				continue // listed twice while the collection changed: once is enough
			}
			seen[id] = true
			gt := strList(o, "groupTypes")
			gtJSON, _ := json.Marshal(gt)
			desc, mail, me, se := str(o, "description"), str(o, "mail"), boolean(o, "mailEnabled"), boolean(o, "securityEnabled")
			ids, names, descs, mails = append(ids, id), append(names, name), append(descs, desc), append(mails, mail)
			mailEn, secEn, types = append(mailEn, me), append(secEn, se), append(types, string(gtJSON))
			hashes = append(hashes, hash(name, desc, mail, strconv.FormatBool(me), strconv.FormatBool(se), string(gtJSON)))
		}
		return []any{ids, names, descs, mails, mailEn, secEn, types, hashes}, len(ids), bad
	},
}

var rolesKind = kind{
	name: "role_definitions", graphType: "roleDefinitions", table: "dir_role_definitions", link: operations.LinkDirectoryRoles,
	upsert: `WITH input AS (
	SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[], $9::text[], $10::text[])
		AS i(object_id, display_name, description, is_built_in, is_enabled, template_id, content_hash)
), prev AS (
	SELECT r.object_id, r.content_hash FROM dir_role_definitions r JOIN input i USING (object_id) WHERE r.tenant_id = $1
), up AS (
	INSERT INTO dir_role_definitions (tenant_id, object_id, display_name, description, is_built_in, is_enabled,
		template_id, content_hash, run_id, last_synced_at)
	SELECT $1, object_id, display_name, description, is_built_in, is_enabled, template_id, content_hash, $2, $3 FROM input
	ON CONFLICT (tenant_id, object_id) DO UPDATE SET display_name = EXCLUDED.display_name,
		description = EXCLUDED.description, is_built_in = EXCLUDED.is_built_in, is_enabled = EXCLUDED.is_enabled,
		template_id = EXCLUDED.template_id, content_hash = EXCLUDED.content_hash, run_id = EXCLUDED.run_id,
		last_synced_at = EXCLUDED.last_synced_at
	RETURNING object_id, content_hash
)` + upsertTail,
	columns: func(page []graph.Object, seen map[string]bool) ([]any, int, int) {
		n := len(page)
		ids, names, descs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		builtIn, enabled, templates, hashes := make([]bool, 0, n), make([]bool, 0, n), make([]string, 0, n), make([]string, 0, n)
		bad := 0
		for _, o := range page {
			id, name := str(o, "id"), str(o, "displayName")
			if id == "" || name == "" {
				bad++
				continue
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			desc, bi, en, tpl := str(o, "description"), boolean(o, "isBuiltIn"), boolean(o, "isEnabled"), str(o, "templateId")
			ids, names, descs = append(ids, id), append(names, name), append(descs, desc)
			builtIn, enabled, templates = append(builtIn, bi), append(enabled, en), append(templates, tpl)
			hashes = append(hashes, hash(name, desc, strconv.FormatBool(bi), strconv.FormatBool(en), tpl))
		}
		return []any{ids, names, descs, builtIn, enabled, templates, hashes}, len(ids), bad
	},
}

func str(o graph.Object, key string) string {
	s, _ := o[key].(string)
	return s
}

func boolean(o graph.Object, key string) bool {
	b, _ := o[key].(bool)
	return b
}

func strList(o graph.Object, key string) []string {
	out := []string{}
	list, _ := o[key].([]any)
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// hash is the content hash of a cached row's fields (length-prefixed, so field
// boundaries cannot shift).
func hash(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sync lists every object of k through Graph, upserting each page with one
// statement and reporting it as one progress delta, then deletes the tenant's cached
// objects the listing did not return. A listing that did not finish deletes nothing.
func (s *Service) sync(ctx context.Context, run *operations.Run, rep *operations.Reporter, k kind) (operations.Outcome, error) {
	conn, err := s.provider.Connection(ctx, run)
	if err != nil {
		return "", err
	}
	syncedAt := s.now().UTC()
	seen := map[string]bool{}
	var kept int64
	err = s.provider.Graph().List(ctx, conn, k.graphType, func(page []graph.Object) error {
		cols, n, bad := k.columns(page, seen)
		var created, updated int64
		if n > 0 {
			args := append([]any{run.TenantID, run.ID, syncedAt}, cols...)
			if err := s.pool.QueryRow(ctx, k.upsert, args...).Scan(&created, &updated); err != nil {
				return fmt.Errorf("directory: upsert %s: %w", k.name, err)
			}
		}
		kept += int64(n)
		if bad > 0 {
			if err := rep.Fail(ctx, operations.ReasonItemFailed, fmt.Sprintf("%s: %d object(s) without an id or display name were skipped", k.graphType, bad)); err != nil {
				return err
			}
		}
		return rep.Progress(ctx, operations.Counts{"total": int64(n + bad), "processed": int64(n + bad),
			"succeeded": int64(n), "failed": int64(bad), "created": created, "updated": updated})
	})
	if err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) {
			return "", s.provider.Failed(ctx, run, err)
		}
		return "", err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+k.table+` WHERE tenant_id = $1 AND run_id <> $2`, run.TenantID, run.ID)
	if err != nil {
		return "", fmt.Errorf("directory: delete stale %s: %w", k.name, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO dir_sync_state (tenant_id, kind, run_id, synced_at, object_count) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, kind) DO UPDATE SET run_id = EXCLUDED.run_id, synced_at = EXCLUDED.synced_at, object_count = EXCLUDED.object_count`,
		run.TenantID, k.name, run.ID, syncedAt, kept); err != nil {
		return "", fmt.Errorf("directory: sync state: %w", err)
	}
	if tag.RowsAffected() > 0 {
		if err := rep.Progress(ctx, operations.Counts{"deleted": tag.RowsAffected()}); err != nil {
			return "", err
		}
	}
	if err := rep.Link(ctx, k.link, run.TenantID); err != nil {
		return "", err
	}
	s.log.Info("directory synced", "run", run.ID, "kind", k.name, "objects", kept, "deleted", tag.RowsAffected())
	return operations.OutcomeSucceeded, nil
}

// SyncState is the last complete sync of one kind for a tenant.
type SyncState struct {
	RunID       uuid.UUID
	SyncedAt    time.Time
	ObjectCount int
}
