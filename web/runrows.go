package web

import (
	"context"
	"html/template"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// runRow is a run of a list with its tenant's name: the read model keeps the tenant's
// id only, and a list of several tenants' runs shows names.
type runRow struct {
	projections.RunSummary
	// TenantName is the name of the run's tenant; absent for a workspace-scoped run.
	TenantName string `json:"tenantName,omitempty"`
}

// withTenantNames pairs runs with their tenants' names, looked up in one query for the
// distinct tenants of the page (none when every run is known's, the page's tenant).
func (s *Server) withTenantNames(ctx context.Context, runs []projections.RunSummary, known *tenancy.Tenant) ([]runRow, error) {
	names := map[uuid.UUID]string{}
	if known != nil {
		names[known.ID] = known.Name
	}
	var ask []uuid.UUID
	for _, r := range runs {
		if r.TenantID == nil {
			continue
		}
		if _, ok := names[*r.TenantID]; !ok {
			names[*r.TenantID] = ""
			ask = append(ask, *r.TenantID)
		}
	}
	if len(ask) > 0 {
		tenants, err := s.deps.Tenancy.TenantsByID(ctx, ask)
		if err != nil {
			return nil, err
		}
		for _, t := range tenants {
			names[t.ID] = t.Name
		}
	}
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		rows[i] = runRow{RunSummary: r}
		if r.TenantID != nil {
			rows[i].TenantName = names[*r.TenantID]
		}
	}
	return rows, nil
}

// listRuns lists one page of the runs f selects, each with its tenant's name (known, when
// set, is the page's tenant), and the cursor of the next page; a bad cursor is a 400.
func (s *Server) listRuns(ctx context.Context, f projections.RunFilter, known *tenancy.Tenant) ([]runRow, string, error) {
	runs, next, err := s.reads().List(ctx, f)
	if err != nil {
		return nil, "", runListError(err)
	}
	rows, err := s.withTenantNames(ctx, runs, known)
	return rows, next, err
}

// runRowsHTML is the body rows of the runs table (partials.html, runs_table): one <tr>
// a run, written here rather than by a template range. At a million runs the tenant
// page was CPU-bound in text/template (2026-12-02, quiet VM: the template walk 64% of
// the serving process's CPU, of it 12% finding the fields runRow promotes from
// RunSummary by name, and 30% reflective calls of the row's functions); the rows are
// the page's bulk. The markup is the template's, byte for byte (TestRunRowsHTMLIsTheTemplates
// renders both): text and attributes escaped as html/template escapes them, ids and
// words from the read model as they are.
func runRowsHTML(rows []runRow) template.HTML {
	var b strings.Builder
	b.Grow(len(rows) * 900)
	now := time.Now()
	for i := range rows {
		r := &rows[i]
		var scratch [36]byte
		b.WriteString("\n  <tr>\n    <td data-label=\"Operation\"><a href=\"/admin/operations/")
		b.Write(appendUUID(scratch[:0], r.ID))
		b.WriteString("\">")
		htmlText(&b, r.TypeLabel)
		b.WriteString("</a></td>\n    <td data-label=\"Tenant\">")
		if r.TenantID != nil {
			id := appendUUID(scratch[:0], *r.TenantID)
			b.WriteString("<a href=\"/admin/t/")
			b.Write(id)
			b.WriteString("/operations\" title=\"")
			b.Write(id)
			b.WriteString("\">")
			if r.TenantName != "" {
				htmlText(&b, r.TenantName)
			} else {
				b.WriteString("<span class=\"mono\">")
				b.Write(id[:8])
				b.WriteString("</span>")
			}
			b.WriteString("</a>")
		} else {
			b.WriteString("<span class=\"muted\">workspace</span>")
		}
		b.WriteString("</td>\n    <td data-label=\"Status\"><span class=\"badge badge-")
		htmlText(&b, r.Bucket)
		b.WriteString("\">")
		htmlText(&b, r.Bucket)
		b.WriteString("</span>")
		if r.ReasonCode != nil && r.Bucket != "succeeded" {
			b.WriteString(" <span class=\"reason mono\" title=\"Reason code\">")
			htmlText(&b, *r.ReasonCode)
			b.WriteString("</span>")
		}
		b.WriteString("</td>\n    <td data-label=\"Initiator\">")
		htmlText(&b, r.Initiator)
		b.WriteString("</td>\n    <td data-label=\"Queued\">")
		writeWhen(&b, r.QueuedAt, now)
		b.WriteString("</td>\n    <td data-label=\"Duration\">")
		htmlText(&b, runDurationAt(r.StartedAt, r.CompletedAt, now))
		b.WriteString("</td>\n  </tr>\n  ")
	}
	return template.HTML(b.String())
}

// htmlText writes s escaped as html/template escapes text and quoted attribute values:
// text/template's HTMLEscapeString, plus "+" as "&#43;", which html/template escapes too.
func htmlText(b *strings.Builder, s string) {
	b.WriteString(strings.ReplaceAll(template.HTMLEscapeString(s), "+", "&#43;"))
}
