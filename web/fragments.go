package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// The pieces every hub page repeats, written in Go rather than by a template range: the
// "when" of a time, the run type and status options of the filters and the start form,
// the tenant links of the sidebar and the sub-navigation, the tenant switcher, the
// notifications menu. In a
// template each value printed is a reflective call of html/template's escaper (three
// for a URL attribute), and these pieces were most of a tenant page's template time
// (2026-12-02, BenchmarkRenderOperationsPage). They write the markup their templates
// wrote, escaped as html/template escapes it (htmlText); TestFragmentsAreTheTemplates
// renders both and compares.
var fragmentFuncs = template.FuncMap{
	"when_html":           whenHTML,
	"type_options":        typeOptions,
	"bucket_options":      bucketOptions,
	"sidebar_tenant_nav":  sidebarTenantNav,
	"subnav_tenant_links": subnavTenantLinks,
	"switcher_links":      switcherLinks,
	"notes_menu":          notesMenu,
}

// whenHTML is the "when" partial: a time in words with the exact time on hover, "—"
// when zero. It takes a time.Time or a *time.Time (nil is zero), as the partial did.
func whenHTML(v any) (template.HTML, error) {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	default:
		return "", fmt.Errorf("when: a time.Time or *time.Time, not %T", v)
	}
	var b strings.Builder
	writeWhen(&b, t, time.Now())
	return template.HTML(b.String()), nil
}

// writeWhen writes the "when" markup of t, in words as seen at now.
func writeWhen(b *strings.Builder, t, now time.Time) {
	if t.IsZero() {
		b.WriteString(`<span class="muted">—</span>`)
		return
	}
	var scratch [40]byte
	at := t.UTC().AppendFormat(scratch[:0], time.RFC3339)
	b.WriteString(`<time datetime="`)
	b.Write(at)
	b.WriteString(`" title="`)
	b.Write(at)
	b.WriteString(`">`)
	htmlText(b, relTimeAt(t, now))
	b.WriteString(`</time>`)
}

// typeOptions are a select's options of run types, the one named selected (if any)
// selected.
func typeOptions(types []operations.TypeInfo, selected string) template.HTML {
	var b strings.Builder
	for _, t := range types {
		writeOption(&b, t.Type, t.Label, t.Type == selected)
	}
	return template.HTML(b.String())
}

// bucketOptions are a select's options of statuses (buckets), the one named selected
// (if any) selected.
func bucketOptions(buckets []operations.Bucket, selected string) template.HTML {
	var b strings.Builder
	for _, k := range buckets {
		writeOption(&b, string(k), string(k), string(k) == selected)
	}
	return template.HTML(b.String())
}

// writeOption writes <option value="value"[ selected]>label</option>.
func writeOption(b *strings.Builder, value, label string, selected bool) {
	b.WriteString(`<option value="`)
	htmlText(b, value)
	b.WriteString(`"`)
	if selected {
		b.WriteString(` selected`)
	}
	b.WriteString(`>`)
	htmlText(b, label)
	b.WriteString(`</option>`)
}

// sidebarTenantNav is the sidebar's list items of a tenant's data pages (tenantdata):
// links to the tenant's pages, the one named nav current; without a tenant, the same
// words greyed out.
func sidebarTenantNav(tenant *tenancy.Tenant, nav string) template.HTML {
	var b strings.Builder
	for _, p := range tenantPages[2:] {
		if tenant == nil {
			b.WriteString("\n      <li><span class=\"disabled\" title=\"Pick a tenant below first\" aria-disabled=\"true\">")
			htmlText(&b, p.Label)
			b.WriteString("</span></li>")
			continue
		}
		b.WriteString("\n      <li><a href=\"")
		writeTenantPath(&b, tenant.ID, p.Path)
		b.WriteString(`"`)
		if p.Nav == nav {
			b.WriteString(` aria-current="page" class="active"`)
		}
		b.WriteString(`>`)
		htmlText(&b, p.Label)
		b.WriteString("</a></li>")
	}
	return template.HTML(b.String())
}

// subnavTenantLinks are the links of a tenant's sub-navigation (tenantpages), the one
// named nav current.
func subnavTenantLinks(tenantID uuid.UUID, nav string) template.HTML {
	var b strings.Builder
	for _, p := range tenantPages {
		b.WriteString("\n  <a href=\"")
		writeTenantPath(&b, tenantID, p.Path)
		b.WriteString(`"`)
		if p.Nav == nav {
			b.WriteString(` aria-current="page"`)
		}
		b.WriteString(`>`)
		htmlText(&b, p.Label)
		b.WriteString("</a>")
	}
	return template.HTML(b.String())
}

// switcherLinks are the tenant switcher's list items: each tenant's operations page.
func switcherLinks(tenants []tenancy.Tenant) template.HTML {
	var b strings.Builder
	for i := range tenants {
		b.WriteString(`<li><a href="`)
		writeTenantPath(&b, tenants[i].ID, "/operations")
		b.WriteString(`">`)
		htmlText(&b, tenants[i].Name)
		b.WriteString(`</a></li>`)
	}
	return template.HTML(b.String())
}

// writeTenantPath writes /admin/t/<id><path>: an id and one of tenantPages' paths, which
// need no escaping in a URL or an attribute.
func writeTenantPath(b *strings.Builder, id uuid.UUID, path string) {
	var scratch [36]byte
	b.WriteString("/admin/t/")
	b.Write(appendUUID(scratch[:0], id))
	b.WriteString(path)
}

// appendUUID appends id in its canonical form (uuid.UUID.String without the allocation).
func appendUUID(dst []byte, id uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return dst
}

// notesMenu is the notifications menu's list items: each notification's link, its time,
// the unread ones marked.
func notesMenu(notes []projections.Notification) template.HTML {
	var b strings.Builder
	now := time.Now()
	for i := range notes {
		n := &notes[i]
		b.WriteString(`<li`)
		if n.ReadAt == nil {
			b.WriteString(` class="unread"`)
		}
		b.WriteString(`><a href="`)
		writeURLAttr(&b, n.URL)
		b.WriteString(`">`)
		htmlText(&b, n.Title)
		b.WriteString(`</a> `)
		writeWhen(&b, n.CreatedAt, now)
		b.WriteString(`</li>`)
	}
	return template.HTML(b.String())
}

// writeURLAttr writes u as html/template writes a value into a quoted URL attribute: a
// URL whose scheme is not http, https or mailto becomes "#ZgotmplZ", the bytes a URL
// may not hold are percent-encoded (an escape already there stays), and the result is
// escaped for the attribute.
func writeURLAttr(b *strings.Builder, u string) {
	if i := strings.IndexByte(u, ':'); i >= 0 && !strings.ContainsRune(u[:i], '/') {
		switch strings.ToLower(u[:i]) {
		case "http", "https", "mailto":
		default:
			b.WriteString("#ZgotmplZ")
			return
		}
	}
	const hex = "0123456789abcdef"
	isHex := func(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }
	for i := 0; i < len(u); i++ {
		switch c := u[i]; {
		case c == '&':
			b.WriteString("&amp;")
		case c == '+':
			b.WriteString("&#43;")
		case strings.IndexByte("!#$*,/:;=?@[]-._~", c) >= 0,
			'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			// An escape stays (html/template's test, which re-encodes one that ends u).
			c == '%' && i+2 < len(u) && isHex(u[i+1]) && isHex(u[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
}
