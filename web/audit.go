package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// The compliance surfaces (issue 11 point 5) — /admin/audit, /admin/audit/export,
// /admin/audit/replay and GET /api/v1/audit, /api/v1/audit/export,
// /api/v1/tenants/{tenant}/replay — read the audit log read model
// (projections.AuditLog) and replay the log (modules/replay). One parser reads the
// filters and one function decides what the caller may see, on every surface.

// The 422 messages of the audit filters.
const (
	msgAuditActor   = "actor must be at most 200 characters."
	msgAuditAction  = "action must be an audit action, like operation.start (letters, digits, dots, dashes, underscores)."
	msgAuditOutcome = "outcome must be an audit outcome, like accepted or denied (letters and underscores)."
	msgAuditCursor  = "The cursor (page link) is no longer valid; start from the first page."
	msgAuditFormat  = "format must be jsonl or csv."
	msgAuditAsOf    = "asOf must be a time like 2026-01-31T14:00:00Z."
)

// auditQuery is the audit filters as the caller spelled them, for the form to show and
// the next-page and export links to carry.
type auditQuery struct {
	Actor, Action, Tenant, Outcome, Since, Until string
}

// Filtered reports whether any filter is set.
func (q auditQuery) Filtered() bool { return q != auditQuery{} }

// Values is the set filters as a query string, plus extra (name, value) pairs; it is
// url.Values.Encode output (every value escaped), safe to put after a "?" in an href.
func (q auditQuery) Values(extra ...string) template.URL {
	v := url.Values{}
	for k, val := range map[string]string{"actor": q.Actor, "action": q.Action, "tenant": q.Tenant,
		"outcome": q.Outcome, "since": q.Since, "until": q.Until} {
		if val != "" {
			v.Set(k, val)
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			v.Set(extra[i], extra[i+1])
		}
	}
	return template.URL(v.Encode())
}

// auditWord reports whether s is a short word of lowercase letters, digits and extra.
func auditWord(s string, maxLen int, extra string) bool {
	if len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && !strings.ContainsRune(extra, r) {
			return false
		}
	}
	return true
}

// parseAuditFilter reads the audit filters (actor, action, tenant, outcome, since,
// until) and the cursor; any bad value is a 422. The filter is not yet restricted to
// what the caller may see (auditScope).
func parseAuditFilter(c *fiber.Ctx) (projections.AuditFilter, auditQuery, string, error) {
	q := auditQuery{Actor: c.Query("actor"), Action: c.Query("action"), Outcome: c.Query("outcome"),
		Since: c.Query("since"), Until: c.Query("until")}
	f := projections.AuditFilter{Actor: q.Actor, Action: q.Action, Outcome: q.Outcome}
	var err error
	switch {
	case len(q.Actor) > 200:
		return f, q, "", fiber.NewError(fiber.StatusUnprocessableEntity, msgAuditActor)
	case !auditWord(q.Action, 100, "._-:"):
		return f, q, "", fiber.NewError(fiber.StatusUnprocessableEntity, msgAuditAction)
	case !auditWord(q.Outcome, 40, "_"):
		return f, q, "", fiber.NewError(fiber.StatusUnprocessableEntity, msgAuditOutcome)
	}
	if f.Tenant, err = queryUUID(c, "tenant", fiber.StatusUnprocessableEntity); err != nil {
		return f, q, "", err
	}
	if f.Tenant != uuid.Nil {
		q.Tenant = f.Tenant.String()
	}
	if f.Since, err = queryRunTime(c, "since"); err != nil {
		return f, q, "", err
	}
	if f.Until, err = queryRunTime(c, "until"); err != nil {
		return f, q, "", err
	}
	cursor, err := queryCursor(c, msgAuditCursor)
	if err != nil {
		return f, q, "", err
	}
	if strings.Trim(cursor, "0123456789") != "" {
		return f, q, "", fiber.NewError(fiber.StatusUnprocessableEntity, msgAuditCursor)
	}
	return f, q, cursor, nil
}

// auditScope limits f to what the caller may see with capability: with a tenant filter,
// that tenant (404 when the caller is no member of it or it does not exist, 403 when
// the caller's role there lacks capability); else the entries of the tenants where the
// caller's role has capability, and the tenant-less entries of the workspaces where a
// workspace-level role has it. A caller with capability nowhere is a 403 when a member
// of some workspace, else a 404.
func (s *Server) auditScope(c *fiber.Ctx, f *projections.AuditFilter, capability tenancy.Capability) error {
	ctx, userID := c.UserContext(), currentUser(c).ID
	if f.Tenant != uuid.Nil {
		_, dec, err := s.deps.Tenancy.Authorize(ctx, userID, f.Tenant, capability)
		if err != nil {
			return err
		}
		if err := decisionError(dec); err != nil {
			return err
		}
		f.Workspaces, f.Tenants = nil, []uuid.UUID{f.Tenant}
		return nil
	}
	var err error
	if f.Workspaces, err = s.deps.Tenancy.VisibleWorkspaces(ctx, userID, capability); err != nil {
		return err
	}
	if f.Tenants, err = s.deps.Tenancy.VisibleTenants(ctx, userID, capability); err != nil {
		return err
	}
	if len(f.Workspaces) > 0 || len(f.Tenants) > 0 {
		return nil
	}
	member, err := s.deps.Tenancy.MemberWorkspaces(ctx, userID)
	if err != nil {
		return err
	}
	if len(member) == 0 {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return fiber.NewError(fiber.StatusForbidden, "Your role may not read the audit log.")
}

// decisionError is a tenancy decision as the hub's and the API's 404/403.
func decisionError(d tenancy.Decision) error {
	switch d {
	case tenancy.Allowed:
		return nil
	case tenancy.Forbidden:
		return fiber.NewError(fiber.StatusForbidden, "Your role may not read the audit log here.")
	}
	return fiber.NewError(fiber.StatusNotFound, "not found")
}

// canAudit reports whether the caller has capability on some workspace or tenant (for
// the nav link and the export button: nothing is offered that answers 403).
func (s *Server) canAudit(c *fiber.Ctx, capability tenancy.Capability) (bool, error) {
	return s.deps.Tenancy.HasCapability(c.UserContext(), currentUser(c).ID, capability)
}

// auditPage reads one page of the audit log for the caller (audit.view).
func (s *Server) auditPage(c *fiber.Ctx, limit int) ([]projections.AuditEntry, string, auditQuery, error) {
	f, q, cursor, err := parseAuditFilter(c)
	if err != nil {
		return nil, "", q, err
	}
	if err := s.auditScope(c, &f, tenancy.CapAuditView); err != nil {
		return nil, "", q, err
	}
	f.Limit = limit
	list, next, err := s.reads().AuditPage(c.UserContext(), f, cursor)
	if errors.Is(err, projections.ErrBadAuditCursor) {
		return nil, "", q, fiber.NewError(fiber.StatusUnprocessableEntity, msgAuditCursor)
	}
	return list, next, q, err
}

// exportRow is one audit entry in an export and in GET /api/v1/audit, the hashes in hex.
type exportRow struct {
	Position    int64           `json:"position"`
	ID          uuid.UUID       `json:"id"`
	At          time.Time       `json:"at"`
	Action      string          `json:"action"`
	Outcome     string          `json:"outcome"`
	Actor       string          `json:"actor"`
	WorkspaceID *uuid.UUID      `json:"workspaceId"`
	TenantID    *uuid.UUID      `json:"tenantId"`
	Target      string          `json:"target"`
	Reason      string          `json:"reason,omitempty"`
	IP          string          `json:"ip"`
	UserAgent   string          `json:"userAgent"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	Hash        string          `json:"hash"`
	ChainHash   string          `json:"chainHash"`
}

func exportRowOf(e projections.AuditEntry) exportRow {
	return exportRow{Position: e.Position, ID: e.ID, At: e.At, Action: e.Action, Outcome: e.Outcome, Actor: e.Actor,
		WorkspaceID: e.WorkspaceID, TenantID: e.TenantID, Target: e.Target, Reason: e.Reason, IP: e.IP, UserAgent: e.UserAgent,
		Before: e.Before, After: e.After, Hash: hex.EncodeToString(e.Hash), ChainHash: hex.EncodeToString(e.ChainHash)}
}

// exportHeader is the first line of a JSONL export (and, as a comment, of a CSV one):
// the hash chain's head when the export began (every exported entry is at or below
// it, and `atlas audit verify` checks the log up to it) and how far the audit read
// model had applied the log (entries between the two are not in this export yet).
type exportHeader struct {
	ChainHead struct {
		Position int64  `json:"position"`
		Hash     string `json:"hash"`
	} `json:"chainHead"`
	ReadModelPosition int64     `json:"readModelPosition"`
	ExportedAt        time.Time `json:"exportedAt"`
	Filters           string    `json:"filters"`
}

// exportTimeout bounds an export's stream (it outlives the request deadline).
const exportTimeout = 10 * time.Minute

var csvColumns = []string{"position", "id", "at", "action", "outcome", "actor", "workspace_id", "tenant_id", "target",
	"reason", "ip", "user_agent", "before", "after", "hash", "chain_hash"}

// handleAuditExport streams the caller's filtered audit entries (audit.export), oldest
// first, as JSONL or CSV, headed by the chain head (also in the X-Atlas-Chain-Head
// header: "position:hash"). An error after the first byte ends the stream with an
// error line (JSONL) or comment (CSV); the status cannot change any more.
func (s *Server) handleAuditExport(c *fiber.Ctx) error {
	if s.deps.Events == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	format := c.Query("format", "jsonl")
	if format != "jsonl" && format != "csv" {
		return fiber.NewError(fiber.StatusUnprocessableEntity, msgAuditFormat)
	}
	f, q, _, err := parseAuditFilter(c)
	if err != nil {
		return err
	}
	if err := s.auditScope(c, &f, tenancy.CapAuditExport); err != nil {
		return err
	}
	ctx := c.UserContext()
	head, err := s.deps.Events.Chain(ctx)
	if err != nil {
		return err
	}
	rmPos, err := s.deps.Runs.AuditCheckpoint(ctx)
	if err != nil {
		return err
	}
	var h exportHeader
	h.ChainHead.Position, h.ChainHead.Hash = head.Position, hex.EncodeToString(head.Hash)
	h.ReadModelPosition, h.ExportedAt, h.Filters = rmPos, time.Now().UTC(), string(q.Values())
	name := "audit-" + h.ExportedAt.Format("20060102T150405Z") + "." + format
	c.Set("X-Atlas-Chain-Head", strconv.FormatInt(head.Position, 10)+":"+h.ChainHead.Hash)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
	}
	runs, log := s.deps.Runs, s.deps.Logger
	streamCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				log.Error("audit export panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		var err error
		if format == "csv" {
			err = writeAuditCSV(streamCtx, w, runs, f, h)
		} else {
			err = writeAuditJSONL(streamCtx, w, runs, f, h)
		}
		if err != nil {
			log.Warn("audit export ended early", "error", failure.Sanitize(err.Error()))
		}
		_ = w.Flush()
	})
	return nil
}

// exportFlushEvery is how many rows an export writes between flushes.
const exportFlushEvery = 500

func writeAuditJSONL(ctx context.Context, w *bufio.Writer, runs *projections.RunReader, f projections.AuditFilter, h exportHeader) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(h); err != nil {
		return err
	}
	n := 0
	err := runs.AuditExport(ctx, f, h.ChainHead.Position, func(e projections.AuditEntry) error {
		if err := enc.Encode(exportRowOf(e)); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			return w.Flush()
		}
		return nil
	})
	if err != nil {
		_ = enc.Encode(map[string]any{"error": map[string]string{"code": "export_incomplete", "message": "The export ended early; run it again."}})
		return err
	}
	return enc.Encode(map[string]any{"end": true, "events": n, "chainHead": h.ChainHead})
}

func writeAuditCSV(ctx context.Context, w *bufio.Writer, runs *projections.RunReader, f projections.AuditFilter, h exportHeader) error {
	if _, err := fmt.Fprintf(w, "# chain head: position %d, hash %s; audit read model at position %d; exported %s\n",
		h.ChainHead.Position, h.ChainHead.Hash, h.ReadModelPosition, h.ExportedAt.Format(time.RFC3339)); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	n := 0
	str := func(id *uuid.UUID) string {
		if id == nil {
			return ""
		}
		return id.String()
	}
	err := runs.AuditExport(ctx, f, h.ChainHead.Position, func(e projections.AuditEntry) error {
		r := exportRowOf(e)
		if err := cw.Write([]string{strconv.FormatInt(r.Position, 10), r.ID.String(), r.At.Format(time.RFC3339Nano), csvSafe(r.Action),
			csvSafe(r.Outcome), csvSafe(r.Actor), str(r.WorkspaceID), str(r.TenantID), csvSafe(r.Target), csvSafe(r.Reason), csvSafe(r.IP),
			csvSafe(r.UserAgent), csvSafe(string(r.Before)), csvSafe(string(r.After)), r.Hash, r.ChainHash}); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return w.Flush()
		}
		return nil
	})
	cw.Flush()
	if err != nil {
		_, _ = fmt.Fprintln(w, "# error: the export ended early; run it again.")
		return err
	}
	_, err = fmt.Fprintf(w, "# end: %d events, chain head position %d\n", n, h.ChainHead.Position)
	return err
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (a user agent or target
// is caller-controlled): a leading =, +, - or @ gets a quote before it.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// queryAsOf reads ?asOf= (RFC 3339; now when absent), a 422 otherwise.
func queryAsOf(c *fiber.Ctx, now time.Time) (time.Time, error) {
	t, err := queryTime(c, "asOf", time.RFC3339Nano, msgAuditAsOf)
	if err != nil || !t.IsZero() {
		return t.UTC(), err
	}
	return now.UTC(), nil
}
