// Package notify delivers in-app notifications: each is a NotificationSent event, in the
// stream of what it is about, plus a row in the recipient's inbox, both written in the
// caller's transaction.
package notify

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
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
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return pgmigrate.Set{Name: "notify", FS: sub}
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

// Service writes and lists inboxes.
type Service struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns a Service.
func New(pool *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, now: now}
}

// Compose gives a notification its id. The caller appends the returned event to the
// stream the notification is about (a run's notifications live in the run's stream, so
// the event commits with the run event that caused it) and writes the inbox row with
// QueueInbox or InboxTx in the same transaction.
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

// QueueInbox queues the inbox row of n on a batch the caller sends in its transaction.
func (s *Service) QueueInbox(b *eventstore.Batch, n NotificationSent) {
	b.Exec(insertInbox, n.NotificationID, n.UserID, nullRun(n.RunID), n.Kind, n.Title, n.Body, n.URL, s.now().UTC())
}

// InboxTx writes the inbox row of n in tx.
func (s *Service) InboxTx(ctx context.Context, tx pgx.Tx, n NotificationSent) error {
	if _, err := tx.Exec(ctx, insertInbox, n.NotificationID, n.UserID, nullRun(n.RunID), n.Kind, n.Title, n.Body, n.URL, s.now().UTC()); err != nil {
		return fmt.Errorf("notify: inbox: %w", err)
	}
	return nil
}

const insertInbox = `INSERT INTO nt_inbox (id, user_id, run_id, kind, title, body, url, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

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
