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
