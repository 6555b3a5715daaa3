package web

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// tenantsPageSize is how many tenants one page of /admin/tenants lists.
const tenantsPageSize = 100

// tenantsPage is the data of the tenants template.
type tenantsPage struct {
	Query   string
	Tenants []tenancy.Tenant
	Matches int
	Page    int
	Prev    string
	Next    string
	// CanOnboard: the user holds provider.manage in a workspace (the "Onboard a tenant" link).
	CanOnboard bool
}

// handleAdminTenants lists the tenants the user may view, filtered by a name search
// (?q=, case-insensitive substring), 100 a page (?page=).
func (s *Server) handleAdminTenants(c *fiber.Ctx) error {
	ctx := c.UserContext()
	q := strings.TrimSpace(c.Query("q"))
	pageNo, err := queryPage(c)
	if err != nil {
		return err
	}
	ids, err := s.visibleTenants(c)
	if err != nil {
		return err
	}
	all, err := s.deps.Tenancy.TenantsByID(ctx, ids)
	if err != nil {
		return err
	}
	needle := strings.ToLower(q)
	var matches []tenancy.Tenant
	for _, t := range all {
		if needle == "" || strings.Contains(strings.ToLower(t.Name), needle) || strings.Contains(strings.ToLower(t.ExternalTenantID), needle) {
			matches = append(matches, t)
		}
	}
	data := tenantsPage{Query: q, Matches: len(matches), Page: pageNo}
	from := (pageNo - 1) * tenantsPageSize
	if from >= 0 && from < len(matches) {
		data.Tenants = matches[from:min(from+tenantsPageSize, len(matches))]
	}
	link := func(n int) string {
		v := "/admin/tenants?page=" + strconv.Itoa(n)
		if q != "" {
			v += "&q=" + url.QueryEscape(q)
		}
		return v
	}
	if pageNo > 1 {
		data.Prev = link(pageNo - 1)
	}
	if from+tenantsPageSize < len(matches) {
		data.Next = link(pageNo + 1)
	}
	onboardable, err := s.deps.Tenancy.VisibleWorkspaces(ctx, currentUser(c).ID, tenancy.CapProviderManage)
	if err != nil {
		return err
	}
	data.CanOnboard = len(onboardable) > 0
	return s.render(c, fiber.StatusOK, "tenants", page{Title: "Tenants", Nav: "tenants", Data: data})
}
