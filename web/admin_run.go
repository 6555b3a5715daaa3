package web

import (
	"maps"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/eventstore"
)

// runPage is the data of the run template.
type runPage struct {
	Run       runDetail
	Terminal  bool
	CountKeys []string
	Events    []eventstore.Envelope
	StreamURL string
}

// handleAdminRun is the canonical run viewer.
func (s *Server) handleAdminRun(c *fiber.Ctx) error {
	run, err := s.viewableRun(c)
	if err != nil {
		return err
	}
	envs, err := s.deps.Operations.Events(c.UserContext(), run.ID)
	if err != nil {
		return err
	}
	d, err := s.runDetailOf(c.UserContext(), run)
	if err != nil {
		return err
	}
	data := runPage{Run: d, Terminal: run.Terminal(), CountKeys: slices.Sorted(maps.Keys(d.Counts)), Events: envs}
	if !data.Terminal {
		data.StreamURL = "/admin/operations/" + run.ID.String() + "/stream"
	}
	p := page{Title: d.TypeLabel + " · Run", Nav: "operations", Data: data}
	if run.TenantID != uuid.Nil { // the tenant's name in the crumb, its pages in the sub-nav
		t, err := s.deps.Tenancy.Tenant(c.UserContext(), run.TenantID)
		if err != nil {
			return err
		}
		p.Tenant = &t
	}
	return s.render(c, fiber.StatusOK, "run", p)
}
