package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// A run list as CSV (GET /api/v1/operations.csv, the hub's "Export CSV" link): the same
// filters, parser and visibility as the list, the whole filtered list instead of a page.
// It is streamed: the first batch is read before the answer starts (so a bad search or a
// timeout is still a clean 4xx/503), then each further batch is one short keyset query
// (projections.RunReader.ExportPage) written as it is read. No transaction stays open
// and memory holds one batch, however many runs there are.

// exportLifetime bounds one export's queries after the answer has started (the request's
// deadline no longer applies: the body is written after the handler returns).
const exportLifetime = 15 * time.Minute

// exportWriteWindow is how long each batch may take to reach the client: the server's
// write timeout (30 s) is set once per answer, so a long export moves the connection's
// write deadline on before every batch instead.
const exportWriteWindow = 30 * time.Second

// runCSVHeader is the header row of a run export.
var runCSVHeader = []string{"id", "type", "type_label", "tenant_id", "tenant", "workspace_id", "status", "outcome",
	"bucket", "reason_code", "initiator", "queued_at", "started_at", "completed_at", "url"}

// handleAPIRunsCSV exports the runs the caller may see as CSV, with the list's filters.
func (s *Server) handleAPIRunsCSV(c *fiber.Ctx) error {
	f, _, err := parseRunFilter(c, surfaceAPI, time.Now())
	if err != nil {
		return err
	}
	if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	return s.streamRunsCSV(c, f, nil)
}

// handleAdminOperationsCSV exports the hub's operations list (every visible tenant) as CSV.
func (s *Server) handleAdminOperationsCSV(c *fiber.Ctx) error {
	f, _, err := parseRunFilter(c, surfaceHub, time.Now())
	if err != nil {
		return err
	}
	if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	return s.streamRunsCSV(c, f, nil)
}

// handleAdminTenantOperationsCSV exports one tenant's operations list as CSV.
func (s *Server) handleAdminTenantOperationsCSV(c *fiber.Ctx) error {
	t, err := s.authorizedTenant(c, tenancy.CapOperationsView)
	if err != nil {
		return err
	}
	f, _, err := parseRunFilter(c, surfaceHub, time.Now())
	if err != nil {
		return err
	}
	if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	f.Tenant, f.WorkspaceIDs = t.ID, nil
	return s.streamRunsCSV(c, f, &t)
}

// streamRunsCSV answers f's runs as CSV, newest first, batch by batch (known is the
// tenant every run belongs to, when there is one).
func (s *Server) streamRunsCSV(c *fiber.Ctx, f projections.RunFilter, known *tenancy.Tenant) error {
	batch := s.deps.ExportBatch
	first, next, err := s.reads().ExportPage(c.UserContext(), f, batch)
	if err != nil {
		return runListError(err)
	}
	rows, err := s.withTenantNames(c.UserContext(), first, known)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="operations-%s.csv"`, time.Now().UTC().Format("20060102-150405")))
	c.Set(fiber.HeaderCacheControl, "no-store")
	log, conn := s.deps.Logger, c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The writer runs in a goroutine of its own, out of the recover middleware's reach.
		defer func() {
			if p := recover(); p != nil {
				log.Error("run export panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), exportLifetime)
		defer cancel()
		cw := csv.NewWriter(w)
		if cw.Write(runCSVHeader) != nil {
			return
		}
		for {
			_ = conn.SetWriteDeadline(time.Now().Add(exportWriteWindow))
			for _, r := range rows {
				if cw.Write(runCSVRecord(r)) != nil {
					return
				}
			}
			cw.Flush()
			if cw.Error() != nil || w.Flush() != nil {
				return // the client went away
			}
			if next == "" {
				return
			}
			f.Cursor = next
			var runs []projections.RunSummary
			if runs, next, err = s.reads().ExportPage(ctx, f, batch); err == nil {
				rows, err = s.withTenantNames(ctx, runs, known)
			}
			if err != nil {
				// The status line is sent: the export ends short, and the log says why.
				log.Warn("run export stopped", "error", failure.Sanitize(err.Error()))
				return
			}
		}
	})
	return nil
}

// runCSVRecord is one run's CSV row, each cell neutralized against formula injection.
func runCSVRecord(r runRow) []string {
	opt := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	tenantID, reason := "", ""
	if r.TenantID != nil {
		tenantID = r.TenantID.String()
	}
	if r.ReasonCode != nil {
		reason = *r.ReasonCode
	}
	rec := []string{r.ID.String(), r.Type, r.TypeLabel, tenantID, r.TenantName, r.WorkspaceID.String(), r.Status, r.Outcome,
		r.Bucket, reason, r.Initiator, r.QueuedAt.UTC().Format(time.RFC3339Nano), opt(r.StartedAt), opt(r.CompletedAt), r.URL}
	for i, v := range rec {
		rec[i] = csvCell(v)
	}
	return rec
}

// csvCell neutralizes a cell a spreadsheet would run as a formula (OWASP CSV injection):
// a cell starting with =, +, -, @, a tab or a carriage return gets a leading quote.
func csvCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + v
	}
	return v
}
