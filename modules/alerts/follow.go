package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
)

var (
	sqlAllRules         = sqlQueries.Get("AllRules")
	sqlFollowerPosition = sqlQueries.Get("FollowerPosition")
	sqlFollowerAdvance  = sqlQueries.Get("FollowerAdvance")
	sqlInsertDeliveries = sqlQueries.Get("InsertDeliveries")
)

// followBatch is how many events one step of the follower reads.
const followBatch = 500

// Payload is the JSON body of a delivery (signed as sent).
type Payload struct {
	// ID is the delivery's id (also in DeliveryHeader).
	ID uuid.UUID `json:"id"`
	// Event is EventRunFailed or EventRunPartiallySucceeded.
	Event string `json:"event"`
	// RuleID is the rule that matched.
	RuleID uuid.UUID `json:"ruleId"`
	// OccurredAt is when the run's terminal event was recorded.
	OccurredAt time.Time `json:"occurredAt"`
	// Run is the run that ended.
	Run PayloadRun `json:"run"`
}

// PayloadRun is what a delivery says of its run: ids, outcome, the reason code and the
// sanitized message, and the path of its viewer in the hub.
type PayloadRun struct {
	ID          uuid.UUID  `json:"id"`
	Type        string     `json:"type"`
	WorkspaceID uuid.UUID  `json:"workspaceId"`
	TenantID    *uuid.UUID `json:"tenantId"` // null for a workspace-scoped run
	Outcome     string     `json:"outcome"`
	ReasonCode  string     `json:"reasonCode,omitempty"`
	Message     string     `json:"message,omitempty"`
	URL         string     `json:"url"`
}

// terminalEvent is the alert event type a run event ends the run with ("" for none):
// RunFailed and RunStaleTimedOut end it failed, RunCompleted with its outcome.
func terminalEvent(ev eventstore.Event) string {
	switch e := ev.(type) {
	case operations.RunFailed, operations.RunStaleTimedOut:
		return EventRunFailed
	case operations.RunCompleted:
		switch e.Outcome {
		case operations.OutcomeFailed:
			return EventRunFailed
		case operations.OutcomePartiallySucceeded:
			return EventRunPartiallySucceeded
		}
	}
	return ""
}

// matches reports whether the rule asks for event on run, recorded at at: same
// workspace, an event it names, a type and tenant its filters admit (a workspace-scoped
// run passes no tenant filter), and the rule existed when the run ended (a rule never
// reports the past, however far behind the follower is).
func (r Rule) matches(run *operations.Run, event string, at time.Time) bool {
	return r.WorkspaceID == run.WorkspaceID && slices.Contains(r.Events, event) &&
		(len(r.Types) == 0 || slices.Contains(r.Types, run.Type)) &&
		(len(r.Tenants) == 0 || (run.TenantID != uuid.Nil && slices.Contains(r.Tenants, run.TenantID))) &&
		!r.CreatedAt.After(at)
}

// delivery is a delivery to insert.
type delivery struct {
	id, rule, run, workspace uuid.UUID
	event, body              string
	at                       time.Time
}

// Follow reads the log from the follower's checkpoint to the head and inserts one
// delivery per (rule, run) for every terminal run event a rule matches; it returns how
// many deliveries it inserted. The deliveries and the checkpoint move commit in one
// transaction, the checkpoint by compare-and-set, and (rule, run) is unique: several
// processes following at once, or a replay, insert each delivery once.
func (s *Service) Follow(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := s.followOnce(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (s *Service) followOnce(ctx context.Context) (int, bool, error) {
	var pos int64
	if err := s.pool.QueryRow(ctx, sqlFollowerPosition).Scan(&pos); err != nil {
		return 0, false, fmt.Errorf("alerts: follower position: %w", err)
	}
	rules, err := s.allRules(ctx)
	if err != nil {
		return 0, false, err
	}
	if len(rules) == 0 {
		// No rule, nothing to match: a rule reports only runs that end after it was
		// created, so the follower skips to the sealed head without reading the log.
		head, err := s.store.Head(ctx)
		if err != nil || head <= pos {
			return 0, false, err
		}
		if _, err := s.pool.Exec(ctx, sqlFollowerAdvance, pos, head); err != nil {
			return 0, false, fmt.Errorf("alerts: advance follower: %w", err)
		}
		return 0, false, nil
	}
	envs, err := s.store.ReadAll(ctx, pos, followBatch)
	if err != nil || len(envs) == 0 {
		return 0, false, err
	}
	var out []delivery
	for _, e := range envs {
		if e.StreamType != operations.StreamType {
			continue
		}
		event := terminalEvent(e.Data)
		if event == "" {
			continue
		}
		found, err := s.deliveriesFor(ctx, rules, e, event)
		if err != nil {
			return 0, false, err
		}
		out = append(out, found...)
	}
	var inserted int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlFollowerAdvance, pos, envs[len(envs)-1].Position)
		if err != nil {
			return fmt.Errorf("alerts: advance follower: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errMoved
		}
		if len(out) == 0 {
			return nil
		}
		ids, rulesIDs, runs, wss := make([]uuid.UUID, len(out)), make([]uuid.UUID, len(out)), make([]uuid.UUID, len(out)), make([]uuid.UUID, len(out))
		events, bodies, ats := make([]string, len(out)), make([]string, len(out)), make([]pgtype.Timestamptz, len(out))
		for i, d := range out {
			ids[i], rulesIDs[i], runs[i], wss[i] = d.id, d.rule, d.run, d.workspace
			events[i], bodies[i], ats[i] = d.event, d.body, pgtype.Timestamptz{Time: d.at, Valid: true}
		}
		tag, err = tx.Exec(ctx, sqlInsertDeliveries, eventstore.UUIDArray(ids), eventstore.UUIDArray(rulesIDs),
			eventstore.UUIDArray(runs), eventstore.UUIDArray(wss), events, bodies, ats)
		if err != nil {
			return fmt.Errorf("alerts: insert deliveries: %w", err)
		}
		inserted = tag.RowsAffected()
		return nil
	})
	if errors.Is(err, errMoved) {
		return 0, true, nil // another process took this batch: read on from where it got
	}
	if err != nil {
		return 0, false, err
	}
	return int(inserted), len(envs) == followBatch, nil
}

// errMoved: another follower advanced the checkpoint first.
var errMoved = errors.New("alerts: the follower's checkpoint moved")

// deliveriesFor builds the deliveries of the rules matching a terminal run event.
func (s *Service) deliveriesFor(ctx context.Context, rules []Rule, e eventstore.Envelope, event string) ([]delivery, error) {
	run, err := s.ops.Load(ctx, e.StreamIDUUID())
	if errors.Is(err, operations.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Demo and benchmark history is the past: nothing reacts to it.
	if run.SourceSurface == "history" {
		return nil, nil
	}
	var out []delivery
	for _, r := range rules {
		if !r.matches(run, event, e.RecordedAt) {
			continue
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("alerts: new id: %w", err)
		}
		p := Payload{ID: id, Event: event, RuleID: r.ID, OccurredAt: e.RecordedAt.UTC(), Run: PayloadRun{
			ID: run.ID, Type: run.Type, WorkspaceID: run.WorkspaceID, Outcome: string(run.Outcome),
			ReasonCode: string(run.ReasonCode), Message: operations.Sanitize(run.Message), URL: operations.RunURL(run.ID)}}
		if p.Run.Outcome == "" || event == EventRunFailed {
			p.Run.Outcome = string(operations.OutcomeFailed)
		}
		if run.TenantID != uuid.Nil {
			t := run.TenantID
			p.Run.TenantID = &t
		}
		body, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("alerts: payload: %w", err)
		}
		out = append(out, delivery{id: id, rule: r.ID, run: run.ID, workspace: run.WorkspaceID, event: event, body: string(body), at: s.opts.Now().UTC()})
	}
	return out, nil
}

// allRules loads every rule (never the secret).
func (s *Service) allRules(ctx context.Context) ([]Rule, error) {
	return s.queryRules(ctx, sqlAllRules)
}
