package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// TestAdminTenants gives the demo workspace 15 more tenants: the layout's switcher lists
// twelve and links to /admin/tenants, which lists, searches and pages what the user may
// view; an outsider sees only their own workspace's tenant.
func TestAdminTenants(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t))
	var last string
	for i := range 15 {
		tn, err := h.app.Tenancy.AddTenant(t.Context(), "system:test", h.seed.Workspace, fmt.Sprintf("Extra %02d", i), fmt.Sprintf("extra-%02d.onmicrosoft.com", i))
		require.NoError(t, err)
		last = tn.ID.String()
	}
	owner := newBrowser(t, h)
	owner.login("owner")
	resp, body := owner.get("/admin/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	switcher := body[strings.Index(body, `class="tenant-switcher"`):]
	switcher = switcher[:strings.Index(switcher, "</ul>")]
	require.Equal(t, 12, strings.Count(switcher, "/operations\">"), "twelve tenants in the switcher")
	require.Contains(t, switcher, `<a href="/admin/tenants">All 18 tenants…</a>`)

	// The page of a tenant beyond the first twelve adds it to the switcher.
	require.NotContains(t, switcher, last)
	resp, body = owner.get("/admin/t/" + last + "/operations")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	switcher = body[strings.Index(body, `class="tenant-switcher"`):]
	switcher = switcher[:strings.Index(switcher, "</ul>")]
	require.Contains(t, switcher, `<a href="/admin/t/`+last+`/operations">Extra 14</a>`)

	resp, body = owner.get("/admin/tenants?q=extra+14")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "1 tenant matching")
	require.Contains(t, body, "Extra 14")
	require.NotContains(t, body, "Extra 13")

	resp, body = owner.get("/admin/tenants")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "18 tenants.")
	require.Equal(t, 18, strings.Count(body, `data-label="Tenant"`))
	require.Contains(t, body, "Contoso Retail")

	resp, body = owner.get("/admin/tenants?q=ONMICROSOFT&page=2")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "No tenant matches", "18 matches fit on page 1")

	resp, _ = owner.get("/admin/tenants?page=0")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	outsider := newBrowser(t, h)
	outsider.login("outsider")
	resp, body = outsider.get("/admin/tenants")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "1 tenant.")
	require.NotContains(t, body, "Contoso")

	anon := newBrowser(t, h)
	resp, _ = anon.get("/admin/tenants")
	require.Equal(t, http.StatusFound, resp.StatusCode, "no session: to the login page")
}
