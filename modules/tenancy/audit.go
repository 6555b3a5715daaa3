package tenancy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/audit"
)

// Audit actions of token administration and of denied views.
const (
	// ActionTokenCreate is the audit action of issuing or importing an API token.
	ActionTokenCreate = "token.create"
	// ActionTokenRevoke is the audit action of revoking an API token.
	ActionTokenRevoke = "token.revoke"
	// ActionViewDenied is the audit action of a refused view of a tenant or a run
	// (outcome DeniedNotFound or DeniedForbidden).
	ActionViewDenied = "access.view"

	// DeniedNotFound is the outcome of a view answered 404: not a member, no such
	// object, or an id that cannot be one.
	DeniedNotFound = "denied_not_found"
	// DeniedForbidden is the outcome of a view answered 403: a member lacking the capability.
	DeniedForbidden = "denied_forbidden"

	// maxDeniedTarget bounds the requested id kept in a denied view's target.
	maxDeniedTarget = 64
)

type originKey struct{}

// WithOrigin returns ctx carrying where the request came from, for the audit entries of
// the administrative commands run under it (tokens, user disable, password, platform
// users); a command run without one (the CLI) records no address or user agent.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// originOf is the origin ctx carries (bounded as audit entries keep it), or none.
func originOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return Origin{IP: clip(o.IP, 64), UserAgent: clip(o.UserAgent, 512)}
}

// entry is an audit entry of an administrative command run by actor on target, with
// the origin ctx carries.
func entry(ctx context.Context, action string, actor Actor, target string) audit.AuditRecorded {
	o := originOf(ctx)
	return audit.AuditRecorded{Action: action, Outcome: "succeeded", Actor: actor, Target: target, IP: o.IP, UserAgent: o.UserAgent}
}

// state is a Before/After value: v as JSON (v holds only plain fields, so marshalling
// cannot fail).
func state(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("tenancy: audit state: %v", err))
	}
	return b
}

// DeniedView is a refused view of a tenant or a run, as the web layer saw it.
type DeniedView struct {
	// UserID is who asked.
	UserID uuid.UUID
	// Kind is what was asked for: "tenant" or "run".
	Kind string
	// Requested is the id as requested (it may be anything: it is reduced to at most 64
	// characters of [0-9A-Za-z-] before it is recorded).
	Requested string
	// Forbidden is true for a 403 (a member lacking the capability), false for a 404.
	Forbidden bool
	// Route names the surface, e.g. the route pattern "/api/v1/operations/:run".
	Route string
	// From is the client address and user agent.
	From Origin
}

// RecordDeniedView appends an access.view audit entry for a refused view (outcome
// denied_not_found or denied_forbidden; the requested id as target). At most
// audit.DeniedLimit entries per user and kind a minute are recorded: the rest are only
// counted (atlas_audit_suppressed_total), so a client walking ids cannot flood the log.
// It reports whether the entry was recorded.
func (s *Service) RecordDeniedView(ctx context.Context, d DeniedView) (bool, error) {
	kind := "run"
	if d.Kind == "tenant" {
		kind = "tenant"
	}
	outcome := DeniedNotFound
	if d.Forbidden {
		outcome = DeniedForbidden
	}
	actor := UserActor(d.UserID)
	e := audit.AuditRecorded{Action: ActionViewDenied, Outcome: outcome, Actor: actor,
		Target: kind + ":" + requestedID(d.Requested), Reason: clip(safeText(d.Route), 128),
		IP: clip(d.From.IP, 64), UserAgent: clip(d.From.UserAgent, 512)}
	if id, err := uuid.Parse(d.Requested); err == nil && kind == "tenant" && d.Forbidden {
		e.TenantID = id // a member's own tenant: its audit trail shows the refusal
	}
	ok, err := s.audit.RecordLimited(ctx, actor+"|"+ActionViewDenied+"|"+kind, e)
	if err != nil {
		return false, fmt.Errorf("tenancy: record denied view: %w", err)
	}
	return ok, nil
}

// requestedID is an id as requested, for an audit target: its canonical form when it is
// a UUID, otherwise at most maxDeniedTarget characters of [0-9A-Za-z-] (others become
// '_'), or "-" when empty.
func requestedID(s string) string {
	if id, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return id.String()
	}
	if s == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxDeniedTarget; i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// safeText keeps the printable ASCII of s.
func safeText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}
