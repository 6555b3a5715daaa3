// Package notify delivers in-app notifications: each is a NotificationSent event in the
// stream of what it is about; the recipient's inbox is a read model built from those
// events.
package notify

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

// NotificationSent records that a user was notified.
type NotificationSent struct {
	NotificationID uuid.UUID `json:"notificationId"`
	UserID         uuid.UUID `json:"userId"`
	RunID          uuid.UUID `json:"runId,omitzero"`
	Kind           string    `json:"kind"`
	Title          string    `json:"title"`
	Body           string    `json:"body"`
	URL            string    `json:"url"`
}

// EventType implements eventstore.Event.
func (NotificationSent) EventType() string { return "NotificationSent" }

// RegisterEvents registers the module's events.
func RegisterEvents(r *eventstore.Registry) { r.Register(NotificationSent{}, 1) }

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the module's migration set.
func Migrations() pgmigrate.Set {
	return pgmigrate.Embedded("notify", migrationFiles)
}

// Notification is one inbox entry.
type Notification struct {
	ID        uuid.UUID  `json:"id"`
	RunID     *uuid.UUID `json:"runId"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	URL       string     `json:"url"`
	CreatedAt time.Time  `json:"createdAt"`
	ReadAt    *time.Time `json:"readAt"`
}

// Service keeps and lists inboxes.
type Service struct {
	pool  *pgxpool.Pool
	store *eventstore.Store
}

// New returns a Service reading notification events from store.
func New(pool *pgxpool.Pool, store *eventstore.Store) *Service {
	return &Service{pool: pool, store: store}
}

// Compose gives a notification its id. The caller appends the returned event to the
// stream the notification is about (a run's notifications live in the run's stream, so
// the event commits with the run event that caused it); the inbox follows from the
// event (RunInbox).
func Compose(n NotificationSent) (NotificationSent, error) {
	if n.NotificationID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return n, fmt.Errorf("notify: new id: %w", err)
		}
		n.NotificationID = id
	}
	return n, nil
}

// RunInbox keeps the inbox up to date until ctx ends: it consumes the event outbox
// (watermill-sql, its own consumer group, so every process shares the work and each
// append is handled once) and writes one inbox row per NotificationSent. Writing is
// idempotent, so a message delivered twice changes nothing. The inbox is a read model:
// the start transaction only appends the event.
func (s *Service) RunInbox(ctx context.Context, log *slog.Logger, poll time.Duration) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(s.pool), wsql.SubscriberConfig{
		ConsumerGroup:  "notify_inbox",
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
		PollInterval:   poll,
	}, watermill.NewSlogLogger(log))
	if err != nil {
		return fmt.Errorf("notify: subscriber: %w", err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, eventstore.OutboxTopic)
	if err != nil {
		return fmt.Errorf("notify: subscribe: %w", err)
	}
	for msg := range msgs {
		if err := s.deliver(ctx, msg.Payload); err != nil {
			log.Warn("inbox update failed; retrying", "error", err.Error())
			msg.Nack()
			continue
		}
		msg.Ack()
	}
	return nil
}

// deliver writes the inbox rows of the NotificationSent events one outbox message names.
func (s *Service) deliver(ctx context.Context, payload []byte) error {
	if !strings.Contains(string(payload), `"NotificationSent"`) {
		return nil
	}
	var om eventstore.OutboxMessage
	if err := json.Unmarshal(payload, &om); err != nil {
		return nil // not an append message: nothing for the inbox
	}
	wanted := map[int64]bool{}
	first := int64(0)
	for _, e := range om.Events {
		if e.Type == (NotificationSent{}).EventType() {
			wanted[e.StreamVersion] = true
			if first == 0 || e.StreamVersion < first {
				first = e.StreamVersion
			}
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	envs, err := s.store.ReadStream(ctx, om.StreamID, first-1)
	if err != nil {
		return fmt.Errorf("notify: read %s: %w", om.StreamID, err)
	}
	for _, env := range envs {
		n, ok := env.Data.(NotificationSent)
		if !ok || !wanted[env.StreamVersion] {
			continue
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO nt_inbox (id, user_id, run_id, kind, title, body, url, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			n.NotificationID, n.UserID, nullRun(n.RunID), n.Kind, n.Title, n.Body, n.URL, env.RecordedAt); err != nil {
			return fmt.Errorf("notify: inbox: %w", err)
		}
	}
	return nil
}

func nullRun(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// List returns a user's newest notifications first.
func (s *Service) List(ctx context.Context, userID uuid.UUID, limit int) ([]Notification, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT id, run_id, kind, title, body, url, created_at, read_at
		FROM nt_inbox WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.RunID, &n.Kind, &n.Title, &n.Body, &n.URL, &n.CreatedAt, &n.ReadAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	return out, nil
}
