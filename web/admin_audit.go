package web

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/replay"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

// auditLogPage is the data of the audit template.
type auditLogPage struct {
	Entries   []auditRow
	Q         auditQuery
	Next      string
	CanExport bool
	Tenants   []tenancy.Tenant
	// Now is when the page was made: a tenant's replay link replays as of then.
	Now time.Time
}

// auditRow is an audit entry as the page lists it: its tenant's name, and the run its
// target names (if any) for the replay link.
type auditRow struct {
	projections.AuditEntry
	TenantName string
	RunID      string
}

// handleAdminAudit is /admin/audit: the audit log the caller may read (audit.view),
// newest first, filtered by actor, action, tenant, outcome and time, keyset-paged;
// an export link (audit.export) for the same filters.
func (s *Server) handleAdminAudit(c *fiber.Ctx) error {
	entries, next, q, err := s.auditPage(c, 50)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	data := auditLogPage{Q: q, Now: time.Now().UTC()}
	if next != "" {
		data.Next = "?" + string(q.Values("cursor", next))
	}
	if data.CanExport, err = s.canAudit(c, tenancy.CapAuditExport); err != nil {
		return err
	}
	ids, err := s.deps.Tenancy.VisibleTenants(ctx, currentUser(c).ID, tenancy.CapAuditView)
	if err != nil {
		return err
	}
	if data.Tenants, err = s.deps.Tenancy.TenantsByID(ctx, ids); err != nil {
		return err
	}
	names := make(map[uuid.UUID]string, len(data.Tenants))
	for _, t := range data.Tenants {
		names[t.ID] = t.Name
	}
	for _, e := range entries {
		row := auditRow{AuditEntry: e}
		if e.TenantID != nil {
			row.TenantName = names[*e.TenantID]
		}
		if id, ok := strings.CutPrefix(e.Target, "run:"); ok {
			if _, err := parseID(id); err == nil {
				row.RunID = id
			}
		}
		data.Entries = append(data.Entries, row)
	}
	return s.render(c, fiber.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: data})
}

// replayPage is the data of the audit_replay template: a run or a tenant as of AsOf.
type replayPage struct {
	AsOf     time.Time
	AsOfText string
	Run      *replay.RunReplay
	Tenant   *replay.TenantReplay
	// Labels are the run types' labels.
	Labels map[string]string
}

// handleAdminAuditReplay is /admin/audit/replay: ?run=ID, or ?tenant=ID, each as of
// ?asOf= (RFC 3339; now when absent), rebuilt from events alone (modules/replay). The
// caller needs audit.view on the run's tenant (or, for a workspace-scoped run, a
// workspace-level role with it): 404 when not a member or unknown, 403 without it.
func (s *Server) handleAdminAuditReplay(c *fiber.Ctx) error {
	if s.deps.Events == nil {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	runID, err := queryUUID(c, "run", fiber.StatusNotFound)
	if err != nil {
		return err
	}
	tenantID, err := queryUUID(c, "tenant", fiber.StatusNotFound)
	if err != nil {
		return err
	}
	asOf, err := queryAsOf(c, time.Now())
	if err != nil {
		return err
	}
	data := replayPage{AsOf: asOf, AsOfText: asOf.Format(time.RFC3339), Labels: map[string]string{}}
	for _, t := range operations.Types() {
		data.Labels[t.Type] = t.Label
	}
	ctx := c.UserContext()
	switch {
	case runID != uuid.Nil && tenantID == uuid.Nil:
		rr, err := s.replayRun(c, runID, asOf)
		if err != nil {
			return err
		}
		data.Run = &rr
	case tenantID != uuid.Nil && runID == uuid.Nil:
		_, dec, err := s.deps.Tenancy.Authorize(ctx, currentUser(c).ID, tenantID, tenancy.CapAuditView)
		if err != nil {
			return err
		}
		if err := decisionError(dec); err != nil {
			return err
		}
		tr, err := replay.Tenant(ctx, s.deps.Events, tenantID, asOf, nil)
		if err != nil {
			return err
		}
		data.Tenant = &tr
	default:
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Give either run= or tenant= (with asOf=).")
	}
	return s.render(c, fiber.StatusOK, "audit_replay", page{Title: "Replay", Nav: "audit", Data: data})
}

// replayRun rebuilds a run as of asOf if the caller may read its audit trail: 404 for
// an unknown run or one outside the caller's memberships, 403 without audit.view.
func (s *Server) replayRun(c *fiber.Ctx, id uuid.UUID, asOf time.Time) (replay.RunReplay, error) {
	ctx, userID := c.UserContext(), currentUser(c).ID
	full, err := replay.Run(ctx, s.deps.Events, id)
	if errors.Is(err, operations.ErrNotFound) {
		return replay.RunReplay{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if err != nil {
		return replay.RunReplay{}, err
	}
	var dec tenancy.Decision
	if full.Run.TenantID != uuid.Nil {
		_, dec, err = s.deps.Tenancy.Authorize(ctx, userID, full.Run.TenantID, tenancy.CapAuditView)
	} else {
		dec, err = s.deps.Tenancy.AuthorizeWorkspace(ctx, userID, full.Run.WorkspaceID, tenancy.CapAuditView)
	}
	if err != nil {
		return replay.RunReplay{}, err
	}
	if err := decisionError(dec); err != nil {
		return replay.RunReplay{}, err
	}
	rr, err := replay.RunAsOf(ctx, s.deps.Events, id, asOf)
	if errors.Is(err, operations.ErrNotFound) {
		return replay.RunReplay{}, fiber.NewError(fiber.StatusNotFound, "The run had not been queued yet at that time.")
	}
	return rr, err
}
