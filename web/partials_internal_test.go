package web

import (
	"bytes"
	"html/template"
	"testing"

	"github.com/stretchr/testify/require"
)

// renderPartial executes the partial name of the page templates with data.
func renderPartial(t *testing.T, name string, data any) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, mustParsePages()["operations"].ExecuteTemplate(&b, name, data))
	return b.String()
}

// TestPartials: every page has the partials, and they render the markup the pages
// used to repeat, with the text escaped.
func TestPartials(t *testing.T) {
	t.Parallel()
	for name, p := range mustParsePages() {
		for _, partial := range []string{"runlink", "when", "badge", "thead", "empty", "pager", "runs_table"} {
			require.NotNil(t, p.Lookup(partial), "%s lacks %s", name, partial)
		}
	}

	require.Equal(t, `<span class="badge badge-failed">failed</span>`, renderPartial(t, "badge", "failed"))

	head, err := tableHead("Runs, newest first", "Name", column{Label: "Items", Num: true})
	require.NoError(t, err)
	require.Equal(t, `<caption class="sr-only">Runs, newest first</caption>
  <thead><tr><th scope="col">Name</th><th scope="col" class="num">Items</th></tr></thead>`, renderPartial(t, "thead", head))
	head, err = tableHead("", "Key")
	require.NoError(t, err)
	require.Equal(t, `<thead><tr><th scope="col">Key</th></tr></thead>`, renderPartial(t, "thead", head))
	_, err = tableHead("", 3)
	require.Error(t, err)

	hint := catHTML("Start an ", template.HTML("<em>Inventory sync</em>"), " from the ", linkHTML("/admin/t/x/operations", "tenant's <operations>"), ".")
	require.Equal(t, `<div class="empty">
  <p><strong>No &lt;snapshots&gt; yet.</strong></p>
  <p>Start an <em>Inventory sync</em> from the <a href="/admin/t/x/operations">tenant&#39;s &lt;operations&gt;</a>.</p>
</div>`, renderPartial(t, "empty", emptyState{Title: "No <snapshots> yet.", Hint: hint}))
	require.Equal(t, `<div class="empty">
  <p><strong>No drift.</strong> Same &amp; same.</p>
</div>`, renderPartial(t, "empty", emptyState{Title: "No drift.", Inline: "Same & same."}))
	for _, href := range []string{"javascript:alert(1)", "//evil.example/", "https://evil.example/"} {
		require.Equal(t, template.HTML(`<a href="#">x</a>`), linkHTML(href, "x"), href)
	}
	require.Equal(t, template.HTML(`<a href="?a=1&amp;b=&#34;2&#34;">x</a>`), linkHTML(`?a=1&b="2"`, "x"))

	require.Equal(t, "", renderPartial(t, "pager", pager{}), "one page: no pager")
	require.Equal(t, `<nav class="pager" aria-label="Pagination"><a class="btn" href="/admin/operations?cursor=abc" rel="next">Next page →</a></nav>`,
		renderPartial(t, "pager", pager{Next: "/admin/operations?cursor=abc"}))
	require.Equal(t, `<nav class="pager" aria-label="Pagination"><a class="btn" href="/admin/tenants?page=1" rel="prev">← Previous page</a><span>Page 2</span></nav>`,
		renderPartial(t, "pager", pager{Prev: "/admin/tenants?page=1", Page: 2}))
}

// TestSharedPagePartials: the table, account and sign-in partials render the markup the
// pages and both layouts used to repeat, with the text escaped, and both layouts wrap a
// page in the same document.
func TestSharedPagePartials(t *testing.T) {
	t.Parallel()
	head, err := tableHead("", "Name")
	require.NoError(t, err)
	require.Equal(t, `<div class="table-wrap">
<table class="items stack">
  <thead><tr><th scope="col">Name</th></tr></thead>
  <tbody>`, renderPartial(t, "table_open", tableOpen{Class: "items stack", Head: head}))
	require.Equal(t, "</tbody>\n</table>\n</div>", renderPartial(t, "table_close", nil))

	account := renderPartial(t, "account", accountBox{Title: "Signed in as a@b", Name: "<A>", Action: "/admin/logout", CSRF: "tok"})
	require.Contains(t, account, `<span class="email" title="Signed in as a@b">&lt;A&gt;</span>`)
	require.Contains(t, account, `<form method="post" action="/admin/logout">`)
	require.Contains(t, account, `<input type="hidden" name="_csrf" value="tok">`)

	form := renderPartial(t, "login_form", loginForm{Action: "/system/login", CSRF: "tok", Page: loginPage{Email: `"x"@y`, Error: "<no>"}})
	require.Contains(t, form, `<p class="error" role="alert">&lt;no&gt;</p>`)
	require.Contains(t, form, `<form method="post" action="/system/login">`)
	require.Contains(t, form, `value="&#34;x&#34;@y"`)
	require.NotContains(t, renderPartial(t, "login_form", loginForm{Action: "/admin/login"}), `class="error"`)

	for name, suffix := range map[string]string{"login": "TenantAtlas Ops", "system_login": "TenantAtlas System"} {
		var b bytes.Buffer
		data := any(page{Title: "Sign in", CSRF: "tok", Data: loginPage{}})
		if name == "system_login" {
			data = systemPage{Title: "Sign in", CSRF: "tok", Data: loginPage{}}
		}
		require.NoError(t, mustParsePages()[name].ExecuteTemplate(&b, "layout", data))
		html := b.String()
		require.Contains(t, html, "<title>Sign in · "+suffix+"</title>", name)
		require.Contains(t, html, `<a class="skip" href="#main">Skip to content</a>`, name)
		require.Contains(t, html, `<main id="main" class="bare">`, name)
		require.Contains(t, html, `<input id="password" name="password" type="password"`, name)
		require.NotContains(t, html, `class="shell"`, name)
	}
}
