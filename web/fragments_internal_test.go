package web

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// fragmentTemplates are the templates the fragments replaced, as they were ("old_*"),
// beside calls of the fragments ("new_*").
const fragmentTemplates = `
{{- define "old_when"}}{{if .IsZero}}<span class="muted">—</span>{{else}}<time datetime="{{rfc3339 .}}" title="{{rfc3339 .}}">{{reltime .}}</time>{{end}}{{end}}
{{- define "new_when"}}{{when_html .}}{{end}}
{{- define "old_types"}}<select>{{range .Types}}<option value="{{.Type}}"{{if eq .Type $.Selected}} selected{{end}}>{{.Label}}</option>{{end}}</select>{{end}}
{{- define "new_types"}}<select>{{type_options .Types .Selected}}</select>{{end}}
{{- define "old_buckets"}}<select>{{range .Options}}<option value="{{.}}"{{if eq (print .) $.Selected}} selected{{end}}>{{.}}</option>{{end}}</select>{{end}}
{{- define "new_buckets"}}<select>{{bucket_options .Options .Selected}}</select>{{end}}
{{- define "old_sidebar"}}<ul>{{if .Tenant}}{{$base := printf "/admin/t/%s" .Tenant.ID}}{{$nav := .Nav}}{{range tenantdata}}
      <li><a href="{{$base}}{{.Path}}"{{if eq .Nav $nav}} aria-current="page" class="active"{{end}}>{{.Label}}</a></li>{{end}}{{else}}{{range tenantdata}}
      <li><span class="disabled" title="Pick a tenant below first" aria-disabled="true">{{.Label}}</span></li>{{end}}{{end}}</ul>{{end}}
{{- define "new_sidebar"}}<ul>{{sidebar_tenant_nav .Tenant .Nav}}</ul>{{end}}
{{- define "old_subnav"}}<nav>{{$base := printf "/admin/t/%s" .Tenant.ID}}{{$nav := .Nav}}{{range tenantpages}}
  <a href="{{$base}}{{.Path}}"{{if eq .Nav $nav}} aria-current="page"{{end}}>{{.Label}}</a>{{end}}</nav>{{end}}
{{- define "new_subnav"}}<nav>{{subnav_tenant_links .Tenant.ID .Nav}}</nav>{{end}}
{{- define "old_switcher"}}<ul>{{range .Tenants}}<li><a href="/admin/t/{{.ID}}/operations">{{.Name}}</a></li>{{end}}</ul>{{end}}
{{- define "new_switcher"}}<ul>{{switcher_links .Tenants}}</ul>{{end}}
{{- define "old_notes"}}<ul>{{range .Notes}}<li{{if not .ReadAt}} class="unread"{{end}}><a href="{{.URL}}">{{.Title}}</a> {{template "old_when" .CreatedAt}}</li>{{end}}</ul>{{end}}
{{- define "new_notes"}}<ul>{{notes_menu .Notes}}</ul>{{end}}
{{- define "old_runs_table"}}{{template "table_open" (table_open "runs" (thead "Operation runs, newest first" "Operation" "Tenant" "Status" "Initiator" "Queued" "Duration"))}}
  {{run_rows .}}
{{template "table_close"}}{{end}}
{{- define "new_runs_table"}}{{template "runs_table" .}}{{end}}`

// replacedFuncs are the template functions only the replaced templates called.
var replacedFuncs = template.FuncMap{
	"reltime":     relTime,
	"tenantpages": func() []tenantPage { return tenantPages },
}

// TestFragmentsAreTheTemplates renders each fragment (fragments.go) and the template
// it replaced: the same bytes, hostile names, labels and URLs included.
func TestFragmentsAreTheTemplates(t *testing.T) {
	tmpl := template.Must(template.New("t").Funcs(templateFuncs).Funcs(partialFuncs).Funcs(fragmentFuncs).Funcs(replacedFuncs).
		ParseFS(templateFiles, "templates/partials.html"))
	template.Must(tmpl.Parse(fragmentTemplates))
	same := func(name string, data any) string {
		t.Helper()
		var want, got strings.Builder
		require.NoError(t, tmpl.ExecuteTemplate(&want, "old_"+name, data), name)
		require.NoError(t, tmpl.ExecuteTemplate(&got, "new_"+name, data), name)
		require.Equal(t, want.String(), got.String(), name)
		return got.String()
	}
	hostile := `<script>alert("x" + 'y')</script> & ` + "\x00" + ` Ω`
	now := time.Now()

	for _, at := range []time.Time{{}, now, now.Add(-90 * time.Second), now.Add(-5 * time.Hour), now.Add(-3 * 24 * time.Hour),
		now.Add(-400 * 24 * time.Hour), now.Add(2 * time.Hour)} {
		same("when", at)
		same("when", &at)
	}
	var b strings.Builder
	require.Error(t, tmpl.ExecuteTemplate(&b, "new_when", "yesterday"), "when takes times only")

	types := append(operations.Types(), operations.TypeInfo{Type: hostile, Label: hostile})
	for _, sel := range []string{"", types[0].Type, hostile, "no.such.type"} {
		same("types", map[string]any{"Types": types, "Selected": sel})
	}
	buckets := append(operations.Buckets(), operations.Bucket(hostile))
	for _, sel := range []string{"", string(buckets[1]), hostile} {
		same("buckets", map[string]any{"Options": buckets, "Selected": sel})
	}

	tenant := &tenancy.Tenant{ID: uuid.New(), Name: hostile}
	for _, p := range tenantPages {
		same("sidebar", map[string]any{"Tenant": tenant, "Nav": p.Nav})
		same("subnav", map[string]any{"Tenant": tenant, "Nav": p.Nav})
	}
	same("sidebar", map[string]any{"Tenant": (*tenancy.Tenant)(nil), "Nav": "operations"})
	out := same("switcher", map[string]any{"Tenants": []tenancy.Tenant{{ID: uuid.New(), Name: "Contoso"}, *tenant, {ID: uuid.New(), Name: "A+B & 'C'"}}})
	require.NotContains(t, out, "<script>")
	same("switcher", map[string]any{"Tenants": []tenancy.Tenant{}})

	read := now.Add(-time.Minute)
	var notes []projections.Notification
	for i, u := range []string{"/admin/operations/" + uuid.NewString(), "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>",
		"/x?a=1&b='2'+3 (c) \"d\"", "HTTPS://example.test/a b", "mailto:ops@example.test", "//cdn.example.test/x:y", "/ü/%41%zz/<>", "/end%41", "/end%4", "/x%",
		"relative/path:with:colons", "", "?q=" + hostile, "#frag"} {
		n := projections.Notification{ID: uuid.New(), Title: hostile, URL: u, CreatedAt: now.Add(-time.Duration(i) * time.Hour)}
		if i%2 == 1 {
			n.ReadAt = &read
		}
		notes = append(notes, n)
	}
	out = same("notes", map[string]any{"Notes": notes})
	require.Contains(t, out, `href="#ZgotmplZ"`, "a javascript: URL is refused")
	same("notes", map[string]any{"Notes": []projections.Notification(nil)})

	row := runRow{RunSummary: projections.RunSummary{ID: uuid.New(), Type: "inventory.sync", TypeLabel: "Inventory sync",
		TenantID: &tenant.ID, Bucket: "succeeded", Initiator: hostile, QueuedAt: now}, TenantName: tenant.Name}
	same("runs_table", []runRow{row})
}
