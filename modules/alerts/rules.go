package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

var (
	sqlInsertRule = sqlQueries.Get("InsertRule")
	sqlRulesOf    = sqlQueries.Get("RulesOf")
)

// Limits of a rule's fields.
const (
	MaxURLLength    = 2048
	MinSecretLength = 16
	MaxSecretLength = 256
	maxFilters      = 100
)

// Rule is an alert rule as it is shown: never its secret.
type Rule struct {
	ID          uuid.UUID   `json:"id"`
	WorkspaceID uuid.UUID   `json:"workspaceId"`
	Events      []string    `json:"events"`
	URL         string      `json:"url"`
	Types       []string    `json:"types"`
	Tenants     []uuid.UUID `json:"tenants"`
	CreatedAt   time.Time   `json:"createdAt"`
}

// NewRule is what an owner asks for. Secret is write-only: stored, never shown.
type NewRule struct {
	// WorkspaceID is the rule's workspace; zero means the one workspace the caller manages.
	WorkspaceID uuid.UUID
	Events      []string
	URL         string
	Types       []string
	Tenants     []uuid.UUID
	Secret      string
}

// Actor is who asks, for authorization and the audit entry.
type Actor struct {
	UserID    uuid.UUID
	IP        string
	UserAgent string
}

// ValidationError names each bad field of a NewRule with what is wrong (never its value).
type ValidationError struct {
	Fields map[string]string
}

// Error implements error: "events: …; url: …", fields sorted.
func (e *ValidationError) Error() string {
	return failure.FieldList(e.Fields)
}

// managed returns the workspaces among the user's where the user may manage alerts
// (workspace.manage: owners). ErrNotFound when the user is a member of none,
// ErrForbidden when a member of some but managing none.
func (s *Service) managed(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	member, err := s.tenancy.MemberWorkspaces(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(member) == 0 {
		return nil, ErrNotFound
	}
	var out []uuid.UUID
	for _, ws := range member {
		d, err := s.tenancy.AuthorizeWorkspace(ctx, userID, ws, tenancy.CapWorkspaceManage)
		if err != nil {
			return nil, err
		}
		if d == tenancy.Allowed {
			out = append(out, ws)
		}
	}
	if len(out) == 0 {
		return nil, ErrForbidden
	}
	return out, nil
}

// Authorize reports whether the user manages alerts somewhere: ErrNotFound for a
// member of no workspace, ErrForbidden for a member managing none.
func (s *Service) Authorize(ctx context.Context, userID uuid.UUID) error {
	_, err := s.managed(ctx, userID)
	return err
}

// CreateRule validates and stores a rule of a workspace the actor owns, appending
// AlertRuleCreated (without the secret) and an audit entry in the same transaction.
// Errors: ErrNotFound, ErrForbidden, *ValidationError.
func (s *Service) CreateRule(ctx context.Context, actor Actor, in NewRule) (Rule, error) {
	ws, err := s.managed(ctx, actor.UserID)
	if err != nil {
		return Rule{}, err
	}
	bad := map[string]string{}
	switch {
	case in.WorkspaceID != uuid.Nil:
		if !slices.Contains(ws, in.WorkspaceID) {
			d, err := s.tenancy.AuthorizeWorkspace(ctx, actor.UserID, in.WorkspaceID, tenancy.CapWorkspaceManage)
			if err != nil {
				return Rule{}, err
			}
			if d == tenancy.Forbidden {
				return Rule{}, ErrForbidden
			}
			return Rule{}, ErrNotFound
		}
	case len(ws) == 1:
		in.WorkspaceID = ws[0]
	default:
		bad["workspaceId"] = "required: you manage several workspaces"
	}
	r, err := s.validate(ctx, in, bad)
	if err != nil {
		return Rule{}, err
	}
	r.ID, err = uuid.NewV7()
	if err != nil {
		return Rule{}, fmt.Errorf("alerts: new id: %w", err)
	}
	r.CreatedAt = s.opts.Now().UTC().Truncate(time.Microsecond)
	actorName := "user:" + actor.UserID.String()
	after, err := json.Marshal(r)
	if err != nil {
		return Rule{}, fmt.Errorf("alerts: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlInsertRule, r.ID, r.WorkspaceID, r.Events, r.URL, r.Types,
			eventstore.UUIDArray(r.Tenants), in.Secret, actor.UserID, r.CreatedAt); err != nil {
			return fmt.Errorf("alerts: insert rule: %w", err)
		}
		ev := AlertRuleCreated{RuleID: r.ID, WorkspaceID: r.WorkspaceID, Events: r.Events, URL: r.URL,
			Types: r.Types, Tenants: r.Tenants, SecretSet: true}
		if _, err := s.store.AppendTx(ctx, tx, eventstore.NewStreamID(StreamType, r.ID), eventstore.NoStream,
			eventstore.NewEvent{Data: ev, Metadata: eventstore.Metadata{Actor: actorName, WorkspaceID: r.WorkspaceID}}); err != nil {
			return fmt.Errorf("alerts: append rule: %w", err)
		}
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: "alerts.rule.create", Outcome: "succeeded",
			Actor: actorName, WorkspaceID: r.WorkspaceID, Target: "alert_rule:" + r.ID.String(), After: after,
			IP: actor.IP, UserAgent: actor.UserAgent})
	})
	if err != nil {
		return Rule{}, err
	}
	return r, nil
}

// validate checks every field of in (bad holds problems found already) and returns the
// rule to store, or a *ValidationError naming each bad field.
func (s *Service) validate(ctx context.Context, in NewRule, bad map[string]string) (Rule, error) {
	r := Rule{WorkspaceID: in.WorkspaceID, URL: strings.TrimSpace(in.URL), Events: []string{}, Types: []string{}, Tenants: []uuid.UUID{}}
	if len(in.Events) == 0 {
		bad["events"] = "name at least one of " + strings.Join(EventTypes(), ", ")
	}
	for _, e := range in.Events {
		if !slices.Contains(EventTypes(), e) {
			bad["events"] = "unknown event type; allowed: " + strings.Join(EventTypes(), ", ")
			break
		}
		if !slices.Contains(r.Events, e) {
			r.Events = append(r.Events, e)
		}
	}
	if msg := checkURL(r.URL); msg != "" {
		bad["url"] = msg
	}
	if len(in.Types) > maxFilters {
		bad["types"] = fmt.Sprintf("at most %d types", maxFilters)
	} else {
		for _, t := range in.Types {
			if _, ok := operations.LookupType(t); !ok {
				bad["types"] = "unknown operation type"
				break
			}
			if !slices.Contains(r.Types, t) {
				r.Types = append(r.Types, t)
			}
		}
	}
	if len(in.Tenants) > maxFilters {
		bad["tenants"] = fmt.Sprintf("at most %d tenants", maxFilters)
	} else if len(in.Tenants) > 0 && in.WorkspaceID != uuid.Nil {
		found, err := s.tenancy.TenantsByID(ctx, in.Tenants)
		if err != nil {
			return Rule{}, err
		}
		for _, id := range in.Tenants {
			ok := slices.ContainsFunc(found, func(t tenancy.Tenant) bool { return t.ID == id && t.WorkspaceID == in.WorkspaceID })
			if !ok {
				bad["tenants"] = "not a tenant of this workspace"
				break
			}
			if !slices.Contains(r.Tenants, id) {
				r.Tenants = append(r.Tenants, id)
			}
		}
	}
	switch n := len(in.Secret); {
	case n == 0:
		bad["secret"] = "required (it signs every delivery and is never shown again)"
	case n < MinSecretLength || n > MaxSecretLength:
		bad["secret"] = fmt.Sprintf("must be %d to %d characters", MinSecretLength, MaxSecretLength)
	case strings.TrimFunc(in.Secret, func(r rune) bool { return r > ' ' && r < 0x7f }) != "":
		bad["secret"] = "printable ASCII only, no spaces"
	}
	if len(bad) > 0 {
		return Rule{}, &ValidationError{Fields: bad}
	}
	return r, nil
}

// checkURL applies the endpoint rule of provider connections (https, or plain http only
// to a loopback address: graph.CheckEndpoint) and refuses credentials in the URL (it is
// shown to every owner); "" when the URL is acceptable.
func checkURL(raw string) string {
	if raw == "" {
		return "required"
	}
	if len(raw) > MaxURLLength {
		return fmt.Sprintf("at most %d characters", MaxURLLength)
	}
	if err := graph.CheckEndpoint(raw); err != nil {
		return "must be an https URL (plain http only to a loopback address)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "not a URL"
	}
	if u.User != nil {
		return "must not carry a user name or password"
	}
	if u.Fragment != "" {
		return "must not have a fragment"
	}
	return ""
}

// Rules lists the rules of the workspaces the user manages, newest first (never a
// secret). ErrNotFound, ErrForbidden as for CreateRule.
func (s *Service) Rules(ctx context.Context, userID uuid.UUID) ([]Rule, error) {
	ws, err := s.managed(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.rulesOf(ctx, ws)
}

func (s *Service) rulesOf(ctx context.Context, ws []uuid.UUID) ([]Rule, error) {
	return s.queryRules(ctx, sqlRulesOf, eventstore.UUIDArray(ws))
}

// queryRules runs a statement that selects rules (never the secret) and scans them; no
// rule is an empty list, never nil.
func (s *Service) queryRules(ctx context.Context, sql string, args ...any) ([]Rule, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts: rules: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanRule)
	if err != nil {
		return nil, fmt.Errorf("alerts: rules: %w", err)
	}
	if out == nil {
		out = []Rule{}
	}
	return out, nil
}

func scanRule(row pgx.CollectableRow) (Rule, error) {
	var r Rule
	var tenants [][16]byte
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.Events, &r.URL, &r.Types, &tenants, &r.CreatedAt)
	if r.Types == nil {
		r.Types = []string{}
	}
	r.Tenants = make([]uuid.UUID, len(tenants))
	for i, t := range tenants {
		r.Tenants[i] = t
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}
