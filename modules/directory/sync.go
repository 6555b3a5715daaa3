// Package directory keeps per-tenant caches of Entra groups and role definitions,
// refreshed by directory.groups.sync and directory.role_definitions.sync, and answers
// the pickers' searches from them (never from Graph at render time).
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, a run-type module:
// it imports graph, operations and provider, and must not import the other run-type
// modules, projections, modules/monolith, web or cmd/.
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
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/failure"
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
	// upsert writes a batch ($1 tenant, $2 run, $3 time, then rows.args) and returns
	// how many rows it created and how many existing rows it changed. A row whose content
	// hash is unchanged is left alone.
	upsert  string
	newRows func(capacity int) rows
	// copyColumns are the columns new rows are copied into (COPY is 2–3× cheaper for
	// PostgreSQL than the upsert, which a first sync of a large directory is all of).
	copyColumns []string
}

// rows is a batch of objects of one kind, column by column (the upsert's arrays).
type rows interface {
	// add appends o and returns its id and content hash; ok is false (nothing appended)
	// when o has no id or display name.
	add(o graph.Object) (id string, sum [sha256.Size]byte, ok bool)
	// pop removes the row added last.
	pop()
	len() int
	// merge appends the rows of other (a batch of the same kind).
	merge(other rows)
	// args are the upsert's arguments after tenant, run and time.
	args() []any
	// copyRows are the rows for COPY into the table's copyColumns.
	copyRows(tenant, run uuid.UUID, at time.Time) [][]any
}

// upsertTail counts what an upsert created and changed: prev holds the batch's rows
// that existed before the statement (a CTE sees the snapshot the statement started
// with), up the rows the statement inserted or updated.
const upsertTail = `
SELECT count(*) FILTER (WHERE p.object_id IS NULL), count(*) FILTER (WHERE p.object_id IS NOT NULL)
FROM up LEFT JOIN prev p USING (object_id)`

var groupsKind = kind{
	name: "groups", graphType: "groups", table: "dir_groups", link: operations.LinkDirectoryGroups,
	upsert: `WITH prev AS (
	SELECT object_id FROM dir_groups WHERE tenant_id = $1 AND object_id = ANY($4::text[])
), up AS (
	INSERT INTO dir_groups AS g (tenant_id, object_id, display_name, description, mail, mail_enabled, security_enabled,
		group_types, content_hash, changed_run_id, changed_at)
	SELECT $1, object_id, display_name, description, mail, mail_enabled, security_enabled,
		ARRAY(SELECT jsonb_array_elements_text(group_types::jsonb)), content_hash, $2, $3
	FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::bool[], $10::text[], $11::text[])
		AS i(object_id, display_name, description, mail, mail_enabled, security_enabled, group_types, content_hash)
	ON CONFLICT (tenant_id, object_id) DO UPDATE SET display_name = EXCLUDED.display_name,
		description = EXCLUDED.description, mail = EXCLUDED.mail, mail_enabled = EXCLUDED.mail_enabled,
		security_enabled = EXCLUDED.security_enabled, group_types = EXCLUDED.group_types,
		content_hash = EXCLUDED.content_hash, changed_run_id = EXCLUDED.changed_run_id, changed_at = EXCLUDED.changed_at
	WHERE g.content_hash IS DISTINCT FROM EXCLUDED.content_hash
	RETURNING object_id
)` + upsertTail,
	newRows: func(n int) rows {
		return &groupRows{ids: make([]string, 0, n), names: make([]string, 0, n), descs: make([]string, 0, n),
			mails: make([]string, 0, n), mailEn: make([]bool, 0, n), secEn: make([]bool, 0, n),
			types: make([]string, 0, n), typeLists: make([][]string, 0, n), hashes: make([]string, 0, n)}
	},
	copyColumns: []string{"tenant_id", "object_id", "display_name", "description", "mail", "mail_enabled", "security_enabled",
		"group_types", "content_hash", "changed_run_id", "changed_at"},
}

type groupRows struct {
	ids, names, descs, mails []string
	mailEn, secEn            []bool
	types, hashes            []string // group types as a JSON array; hex content hashes
	typeLists                [][]string
}

func (r *groupRows) add(o graph.Object) (string, [sha256.Size]byte, bool) {
	id, name := str(o, "id"), str(o, "displayName")
	if id == "" || name == "" {
		return "", [sha256.Size]byte{}, false
	}
	gt := strList(o, "groupTypes")
	gtJSON, _ := json.Marshal(gt)
	desc, mail, me, se := str(o, "description"), str(o, "mail"), boolean(o, "mailEnabled"), boolean(o, "securityEnabled")
	sum := hash(name, desc, mail, strconv.FormatBool(me), strconv.FormatBool(se), string(gtJSON))
	r.ids, r.names, r.descs, r.mails = append(r.ids, id), append(r.names, name), append(r.descs, desc), append(r.mails, mail)
	r.mailEn, r.secEn = append(r.mailEn, me), append(r.secEn, se)
	r.types, r.hashes = append(r.types, string(gtJSON)), append(r.hashes, hex.EncodeToString(sum[:]))
	r.typeLists = append(r.typeLists, gt)
	return id, sum, true
}

func (r *groupRows) pop() {
	n := len(r.ids) - 1
	r.ids, r.names, r.descs, r.mails = r.ids[:n], r.names[:n], r.descs[:n], r.mails[:n]
	r.mailEn, r.secEn, r.types, r.hashes = r.mailEn[:n], r.secEn[:n], r.types[:n], r.hashes[:n]
	r.typeLists = r.typeLists[:n]
}

func (r *groupRows) len() int { return len(r.ids) }

func (r *groupRows) merge(other rows) {
	o := other.(*groupRows)
	r.ids, r.names, r.descs, r.mails = append(r.ids, o.ids...), append(r.names, o.names...), append(r.descs, o.descs...), append(r.mails, o.mails...)
	r.mailEn, r.secEn = append(r.mailEn, o.mailEn...), append(r.secEn, o.secEn...)
	r.types, r.hashes = append(r.types, o.types...), append(r.hashes, o.hashes...)
	r.typeLists = append(r.typeLists, o.typeLists...)
}

func (r *groupRows) args() []any {
	return []any{r.ids, r.names, r.descs, r.mails, r.mailEn, r.secEn, r.types, r.hashes}
}

func (r *groupRows) copyRows(tenant, run uuid.UUID, at time.Time) [][]any {
	out := make([][]any, len(r.ids))
	tid, rid := [16]byte(tenant), [16]byte(run) // pgx encodes uuid.UUID by reflection, [16]byte directly
	for i := range r.ids {
		out[i] = []any{tid, r.ids[i], r.names[i], r.descs[i], r.mails[i], r.mailEn[i], r.secEn[i], r.typeLists[i], r.hashes[i], rid, at}
	}
	return out
}

var rolesKind = kind{
	name: "role_definitions", graphType: "roleDefinitions", table: "dir_role_definitions", link: operations.LinkDirectoryRoles,
	upsert: `WITH prev AS (
	SELECT object_id FROM dir_role_definitions WHERE tenant_id = $1 AND object_id = ANY($4::text[])
), up AS (
	INSERT INTO dir_role_definitions AS r (tenant_id, object_id, display_name, description, is_built_in, is_enabled,
		template_id, content_hash, changed_run_id, changed_at)
	SELECT $1, object_id, display_name, description, is_built_in, is_enabled, template_id, content_hash, $2, $3
	FROM unnest($4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[], $9::text[], $10::text[])
		AS i(object_id, display_name, description, is_built_in, is_enabled, template_id, content_hash)
	ON CONFLICT (tenant_id, object_id) DO UPDATE SET display_name = EXCLUDED.display_name,
		description = EXCLUDED.description, is_built_in = EXCLUDED.is_built_in, is_enabled = EXCLUDED.is_enabled,
		template_id = EXCLUDED.template_id, content_hash = EXCLUDED.content_hash,
		changed_run_id = EXCLUDED.changed_run_id, changed_at = EXCLUDED.changed_at
	WHERE r.content_hash IS DISTINCT FROM EXCLUDED.content_hash
	RETURNING object_id
)` + upsertTail,
	newRows: func(n int) rows {
		return &roleRows{ids: make([]string, 0, n), names: make([]string, 0, n), descs: make([]string, 0, n),
			builtIn: make([]bool, 0, n), enabled: make([]bool, 0, n), templates: make([]string, 0, n), hashes: make([]string, 0, n)}
	},
	copyColumns: []string{"tenant_id", "object_id", "display_name", "description", "is_built_in", "is_enabled",
		"template_id", "content_hash", "changed_run_id", "changed_at"},
}

type roleRows struct {
	ids, names, descs []string
	builtIn, enabled  []bool
	templates, hashes []string
}

func (r *roleRows) add(o graph.Object) (string, [sha256.Size]byte, bool) {
	id, name := str(o, "id"), str(o, "displayName")
	if id == "" || name == "" {
		return "", [sha256.Size]byte{}, false
	}
	desc, bi, en, tpl := str(o, "description"), boolean(o, "isBuiltIn"), boolean(o, "isEnabled"), str(o, "templateId")
	sum := hash(name, desc, strconv.FormatBool(bi), strconv.FormatBool(en), tpl)
	r.ids, r.names, r.descs = append(r.ids, id), append(r.names, name), append(r.descs, desc)
	r.builtIn, r.enabled, r.templates = append(r.builtIn, bi), append(r.enabled, en), append(r.templates, tpl)
	r.hashes = append(r.hashes, hex.EncodeToString(sum[:]))
	return id, sum, true
}

func (r *roleRows) pop() {
	n := len(r.ids) - 1
	r.ids, r.names, r.descs = r.ids[:n], r.names[:n], r.descs[:n]
	r.builtIn, r.enabled, r.templates, r.hashes = r.builtIn[:n], r.enabled[:n], r.templates[:n], r.hashes[:n]
}

func (r *roleRows) len() int { return len(r.ids) }

func (r *roleRows) merge(other rows) {
	o := other.(*roleRows)
	r.ids, r.names, r.descs = append(r.ids, o.ids...), append(r.names, o.names...), append(r.descs, o.descs...)
	r.builtIn, r.enabled = append(r.builtIn, o.builtIn...), append(r.enabled, o.enabled...)
	r.templates, r.hashes = append(r.templates, o.templates...), append(r.hashes, o.hashes...)
}

func (r *roleRows) args() []any {
	return []any{r.ids, r.names, r.descs, r.builtIn, r.enabled, r.templates, r.hashes}
}

func (r *roleRows) copyRows(tenant, run uuid.UUID, at time.Time) [][]any {
	out := make([][]any, len(r.ids))
	tid, rid := [16]byte(tenant), [16]byte(run)
	for i := range r.ids {
		out[i] = []any{tid, r.ids[i], r.names[i], r.descs[i], r.builtIn[i], r.enabled[i], r.templates[i], r.hashes[i], rid, at}
	}
	return out
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
// boundaries cannot shift): sha256 of "len:field;" per field.
func hash(fields ...string) [sha256.Size]byte {
	n := 0
	for _, f := range fields {
		n += len(f) + 22
	}
	buf := make([]byte, 0, n)
	for _, f := range fields {
		buf = strconv.AppendInt(buf, int64(len(f)), 10)
		buf = append(buf, ':')
		buf = append(buf, f...)
		buf = append(buf, ';')
	}
	return sha256.Sum256(buf)
}

// cached is what a sync knows of one object: its content hash as cached when the sync
// started, and whether the listing returned it.
type cached struct {
	sum  [sha256.Size]byte
	seen bool
}

// batch is one or more listed pages, ready to write: the rows that are new or changed
// since the sync started, and the page counts.
type batch struct {
	rows    rows // objects cached before the sync whose content changed: upserted
	fresh   rows // objects not cached when the sync started: copied in
	good    int  // distinct objects listed (unchanged ones included)
	bad     int  // objects without an id or display name
	written int  // rows of rows and fresh
}

// maxBatch bounds how many rows one upsert writes when a writer merges pages that
// were listed while it was busy.
const maxBatch = 5000

// writers is how many batches of one sync are written at once, each on a connection of
// its own, so that PostgreSQL's share of a sync is not one backend's.
const writers = 2

// sync lists every object of k through Graph and writes the new and changed ones while
// the next pages are fetched: a lister goroutine compares each page with the tenant's
// cached content hashes (read once at the start) and hands the rows to write to the
// writers, which upsert them (pages that queued up meanwhile in one statement) and
// report each write as one progress delta. Unchanged objects are not written. After a
// complete listing the cached objects it did not return are deleted and dir_sync_state
// records the sync; a listing that did not finish deletes nothing.
func (s *Service) sync(ctx context.Context, run *operations.Run, rep *operations.Reporter, k kind) (operations.Outcome, error) {
	conn, err := s.provider.Connection(ctx, run)
	if err != nil {
		return "", err
	}
	syncedAt := s.now().UTC()
	known, err := s.cachedHashes(ctx, run.TenantID, k)
	if err != nil {
		return "", err
	}

	listCtx, stop := context.WithCancel(ctx)
	defer stop()
	pages := make(chan batch, 4)
	listed := make(chan error, 1)
	go func() {
		defer close(pages)
		listed <- s.provider.Graph().List(listCtx, conn, k.graphType, func(page []graph.Object) error {
			b := batch{rows: k.newRows(0), fresh: k.newRows(len(page))}
			for _, o := range page {
				c, had := known[str(o, "id")]
				into := b.fresh
				if had {
					into = b.rows
				}
				id, sum, ok := into.add(o)
				if !ok {
					b.bad++
					continue
				}
				if c.seen {
					into.pop() // listed twice while the collection changed: once is enough
					continue
				}
				b.good++
				known[id] = cached{sum: c.sum, seen: true}
				if had && c.sum == sum {
					into.pop() // unchanged
				}
			}
			b.written = b.rows.len() + b.fresh.len()
			select {
			case pages <- b:
				return nil
			case <-listCtx.Done():
				return listCtx.Err()
			}
		})
	}()
	// Writers take batches as they come; after the first failure they stop writing
	// (what was written is reported: the counts match the rows) and the listing stops.
	var (
		mu       sync.Mutex
		writeErr error
		wg       sync.WaitGroup
	)
	for range writers {
		wg.Go(func() {
			for b := range pages {
				mu.Lock()
				failed := writeErr != nil
				mu.Unlock()
				if failed {
					continue // drain, so the lister can end
				}
				if err := s.write(ctx, run, rep, k, syncedAt, merge(b, pages)); err != nil {
					mu.Lock()
					if writeErr == nil {
						writeErr = err
					}
					mu.Unlock()
					stop()
				}
			}
		})
	}
	wg.Wait()
	err = <-listed
	if writeErr != nil {
		return "", writeErr
	}
	if err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) {
			return "", s.provider.Failed(ctx, run, err)
		}
		return "", err
	}

	var stale []string
	kept := 0
	for id, c := range known {
		if c.seen {
			kept++
		} else {
			stale = append(stale, id)
		}
	}
	var deleted int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if len(stale) > 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM `+k.table+` WHERE tenant_id = $1 AND object_id = ANY($2::text[])`, run.TenantID, stale)
			if err != nil {
				return fmt.Errorf("directory: delete stale %s: %w", k.name, err)
			}
			deleted = tag.RowsAffected()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dir_sync_state (tenant_id, kind, run_id, synced_at, object_count) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, kind) DO UPDATE SET run_id = EXCLUDED.run_id, synced_at = EXCLUDED.synced_at, object_count = EXCLUDED.object_count`,
			run.TenantID, k.name, run.ID, syncedAt, kept); err != nil {
			return fmt.Errorf("directory: sync state: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if deleted > 0 {
		if err := rep.Progress(ctx, operations.Counts{"deleted": deleted}); err != nil {
			return "", err
		}
	}
	if err := rep.Link(ctx, k.link, run.TenantID); err != nil {
		return "", err
	}
	s.log.Info("directory synced", "run", run.ID, "kind", k.name, "objects", kept, "deleted", deleted)
	return operations.OutcomeSucceeded, nil
}

// merge adds to b the batches already waiting in pages, up to maxBatch rows.
func merge(b batch, pages <-chan batch) batch {
	for b.written < maxBatch {
		select {
		case more, ok := <-pages:
			if !ok {
				return b
			}
			b.rows.merge(more.rows)
			b.fresh.merge(more.fresh)
			b.good, b.bad, b.written = b.good+more.good, b.bad+more.bad, b.written+more.written
		default:
			return b
		}
	}
	return b
}

// write upserts one batch and reports it as one progress delta.
func (s *Service) write(ctx context.Context, run *operations.Run, rep *operations.Reporter, k kind, syncedAt time.Time, b batch) error {
	var created, updated int64
	if b.fresh.len() > 0 {
		n, err := s.pool.CopyFrom(ctx, pgx.Identifier{k.table}, k.copyColumns,
			pgx.CopyFromRows(b.fresh.copyRows(run.TenantID, run.ID, syncedAt)))
		if err != nil {
			return fmt.Errorf("directory: copy new %s: %w", k.name, err)
		}
		created = n
	}
	if b.rows.len() > 0 {
		var c, u int64
		args := append([]any{run.TenantID, run.ID, syncedAt}, b.rows.args()...)
		if err := s.pool.QueryRow(ctx, k.upsert, args...).Scan(&c, &u); err != nil {
			return fmt.Errorf("directory: upsert %s: %w", k.name, err)
		}
		created, updated = created+c, u
	}
	if b.bad > 0 {
		if err := rep.Fail(ctx, failure.ItemFailed, fmt.Sprintf("%s: %d object(s) without an id or display name were skipped", k.graphType, b.bad)); err != nil {
			return err
		}
	}
	n := int64(b.good + b.bad)
	return rep.Progress(ctx, operations.Counts{"total": n, "processed": n,
		"succeeded": int64(b.good), "failed": int64(b.bad), "created": created, "updated": updated})
}

// cachedHashes reads the content hash of every cached object of k of the tenant.
func (s *Service) cachedHashes(ctx context.Context, tenantID uuid.UUID, k kind) (map[string]cached, error) {
	rows, err := s.pool.Query(ctx, `SELECT object_id, decode(content_hash, 'hex') FROM `+k.table+` WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("directory: read cached %s: %w", k.name, err)
	}
	known := map[string]cached{}
	var id string
	var sum []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &sum}, func() error {
		var c cached
		copy(c.sum[:], sum)
		known[id] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("directory: read cached %s: %w", k.name, err)
	}
	return known, nil
}

// SyncState is the last complete sync of one kind for a tenant.
type SyncState struct {
	RunID       uuid.UUID
	SyncedAt    time.Time
	ObjectCount int
}
