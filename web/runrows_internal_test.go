package web

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/projections"
)

// runsTableTemplate is the runs table's markup as a template range, as it was before
// runRowsHTML wrote its rows.
const runsTableTemplate = `{{define "when"}}{{if .IsZero}}<span class="muted">—</span>{{else}}<time datetime="{{rfc3339 .}}" title="{{rfc3339 .}}">{{reltime .}}</time>{{end}}{{end}}
{{- define "badge"}}<span class="badge badge-{{.}}">{{.}}</span>{{end}}
{{- define "rows"}}
  {{range .}}
  <tr>
    <td data-label="Operation"><a href="/admin/operations/{{.ID}}">{{.TypeLabel}}</a></td>
    <td data-label="Tenant">{{if .TenantID}}<a href="/admin/t/{{.TenantID}}/operations" title="{{.TenantID}}">{{if .TenantName}}{{.TenantName}}{{else}}<span class="mono">{{shortid .TenantID}}</span>{{end}}</a>{{else}}<span class="muted">workspace</span>{{end}}</td>
    <td data-label="Status">{{template "badge" .Bucket}}{{if and .ReasonCode (ne (print .Bucket) "succeeded")}} <span class="reason mono" title="Reason code">{{deref_str .ReasonCode}}</span>{{end}}</td>
    <td data-label="Initiator">{{.Initiator}}</td>
    <td data-label="Queued">{{template "when" .QueuedAt}}</td>
    <td data-label="Duration">{{duration .StartedAt .CompletedAt}}</td>
  </tr>
  {{end}}
{{end}}
{{- define "go"}}
  {{run_rows .}}
{{end}}`

// TestRunRowsHTMLIsTheTemplates renders runs through the template range the table had
// and through runRowsHTML: the same bytes, hostile names, reasons and initiators
// included (escaped alike), for every shape of row (with and without a tenant, a
// tenant name, a reason, a start, an end).
func TestRunRowsHTMLIsTheTemplates(t *testing.T) {
	tmpl := template.Must(template.New("t").Funcs(templateFuncs).Funcs(replacedFuncs).Parse(runsTableTemplate))
	now := time.Now()
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	reason := func(s string) *string { return &s }
	tenant := uuid.New()
	hostile := `<script>alert("x" + 'y')</script> & ` + "\x00" + ` Ω`
	var rows []runRow
	for i, c := range []struct {
		tenant             *uuid.UUID
		name, bucket, init string
		reason             *string
		queued             time.Time
		started, completed *time.Time
		typ                string
	}{
		{&tenant, "Contoso", "succeeded", "Ada <ada@example.test>", nil, now.Add(-90 * time.Second), at(80 * time.Second), at(70 * time.Second), "inventory.sync"},
		{&tenant, "", "failed", "system", reason("graph_request_failed"), now.Add(-3 * time.Hour), at(3 * time.Hour), at(2 * time.Hour), "drift.generate"},
		{nil, "", "running", hostile, nil, now.Add(-49 * time.Hour), at(48 * time.Hour), nil, "findings.lifecycle.backfill"},
		{&tenant, hostile, "succeeded", "o'brien+co", reason("ignored_when_succeeded"), now.Add(-100 * 24 * time.Hour), nil, nil, "no.such.type"},
		{&tenant, "A & B", "partial", "", reason(hostile), time.Time{}, at(time.Hour), at(time.Hour - 350*time.Millisecond), hostile},
	} {
		r := runRow{RunSummary: projections.RunSummary{ID: uuid.New(), Type: c.typ, TypeLabel: typeLabel(c.typ), TenantID: c.tenant,
			Bucket: c.bucket, Status: "completed", ReasonCode: c.reason, Initiator: c.init, QueuedAt: c.queued, StartedAt: c.started,
			CompletedAt: c.completed}, TenantName: c.name}
		if i == 4 {
			r.TypeLabel = hostile
		}
		rows = append(rows, r)
	}
	for n := range len(rows) + 1 {
		var want, got strings.Builder
		require.NoError(t, tmpl.ExecuteTemplate(&want, "rows", rows[:n]))
		require.NoError(t, tmpl.ExecuteTemplate(&got, "go", rows[:n]))
		require.Equal(t, want.String(), got.String(), "%d rows", n)
	}
	require.NotContains(t, string(runRowsHTML(rows)), "<script>")
}
