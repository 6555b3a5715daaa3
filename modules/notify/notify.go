// Package notify delivers in-app notifications: each is a NotificationSent event in the
// stream of what it is about; the recipient's inbox is a read model built from those
// events.
package notify

import (
	"context"
	"embed"
	"fmt"
	"time"

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
}

// Service keeps and lists inboxes.
type Service struct {
	pool *pgxpool.Pool
}

// New returns a Service reading the inbox read model over pool.
func New(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool}
}

// Compose gives a notification its id. The caller appends the returned event to the
// stream the notification is about (a run's notifications live in the run's stream, so
// the event commits with the run event that caused it); the inbox follows from the
// event (the projections.Notifications read model).
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

// List returns a user's newest notifications first, from the inbox read model
// (rm_notifications, which projections.Notifications builds from the log).
func (s *Service) List(ctx context.Context, userID uuid.UUID, limit int) ([]Notification, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, `SELECT id, run_id, kind, title, body, url, created_at
		FROM rm_notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.RunID, &n.Kind, &n.Title, &n.Body, &n.URL, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: list: %w", err)
	}
	return out, nil
}
