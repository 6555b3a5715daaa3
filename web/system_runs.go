package web

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/projections"
)

// systemRunsPage is the data of system_runs.html.
type systemRunsPage struct {
	Runs     []projections.RunSummary
	Query    runListQuery
	Next     string
	Runbooks []runbooks.Runbook
	Buckets  []operations.Bucket
}

// platformType reports whether runs of typ are started from /system (a runbook).
func platformType(typ string) bool {
	info, ok := operations.LookupType(typ)
	return ok && info.PlatformCapability != ""
}

// handleSystemRuns is /system/ops/runs: the runbook runs of every workspace, newest
// first, filtered by runbook, bucket and time like the hub's lists (keyset pages).
func (s *Server) handleSystemRuns(c *fiber.Ctx) error {
	f, q, err := parseRunFilter(c, surfaceHub, time.Now())
	if err != nil {
		return err
	}
	if f.Type == "" {
		f.Type = runbooks.BackfillKey // the one runbook; RunFilter takes one type
	} else if !platformType(f.Type) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "type must be a runbook's key.")
	}
	wss, err := s.deps.Tenancy.Workspaces(c.UserContext())
	if err != nil {
		return err
	}
	for _, w := range wss {
		f.WorkspaceIDs = append(f.WorkspaceIDs, w.ID)
	}
	f.Workspaces = f.WorkspaceIDs
	var list []projections.RunSummary
	next := ""
	if len(wss) > 0 {
		list, next, err = s.reads().List(c.UserContext(), f)
		if err != nil {
			return runListError(err)
		}
	}
	for i := range list {
		list[i].URL = runbooks.SystemRunURL(list[i].ID)
	}
	d := systemRunsPage{Runs: list, Query: q, Runbooks: runbooks.Catalog(), Buckets: operations.Buckets()}
	if next != "" {
		d.Next = "/system/ops/runs?" + q.values(next).Encode()
	}
	return s.renderSystem(c, fiber.StatusOK, "system_runs", systemPage{Title: "Runbook runs", Nav: "runs", Data: d})
}

// platformRun parses :run and loads it if it is a runbook run (any other run, or none,
// is a 404: /system shows only what it starts).
func (s *Server) platformRun(c *fiber.Ctx) (*operations.Run, error) {
	id, err := paramUUID(c, "run")
	if err != nil {
		return nil, err
	}
	run, err := s.deps.Operations.Load(c.UserContext(), id)
	if errors.Is(err, operations.ErrNotFound) {
		return nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if err != nil {
		return nil, err
	}
	if run.Version == 0 || !platformType(run.Type) {
		return nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return run, nil
}

// systemRunPage is the data of system_run.html.
type systemRunPage struct {
	runPage
	BreakGlass bool
	Workspace  string
}

// handleSystemRun is /system/ops/runs/{run}: counts, failures, the context (collapsible)
// and the timeline, live over /system/ops/runs/{run}/stream while the run is active.
func (s *Server) handleSystemRun(c *fiber.Ctx) error {
	run, err := s.platformRun(c)
	if err != nil {
		return err
	}
	envs, err := s.deps.Operations.Events(c.UserContext(), run.ID)
	if err != nil {
		return err
	}
	d := detailOf(run)
	d.NextSteps, d.Related = nil, nil // the hub's links; /system has its own pages
	data := systemRunPage{runPage: runPage{Run: d, Terminal: run.Terminal(), CountKeys: slices.Sorted(maps.Keys(d.Counts)), Events: envs},
		BreakGlass: run.Initiator.BreakGlass}
	if w, err := s.deps.Tenancy.Workspace(c.UserContext(), run.WorkspaceID); err == nil {
		data.Workspace = w.Name
	}
	if !data.Terminal {
		data.StreamURL = runbooks.SystemRunURL(run.ID) + "/stream"
	}
	return s.renderSystem(c, fiber.StatusOK, "system_run", systemPage{Title: d.TypeLabel + " · Run", Nav: "runs", Data: data})
}

// handleSystemRunStream is the run page's live stream: the hub's stream hub (one
// listener per process, capped per user and process), keyed by the platform user.
func (s *Server) handleSystemRunStream(c *fiber.Ctx) error {
	run, err := s.platformRun(c)
	if err != nil {
		return err
	}
	return s.serveRunStream(c, currentPlatformUser(c).ID, run.ID)
}
