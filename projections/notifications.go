package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/notify"
)

// The statements of notifications: its Apply (apply.sql) and its reader (readers.sql).
var (
	sqlNotificationsInsert = sqlQueries.Table("NotificationsInsert")
	sqlNotifications       = sqlQueries.Get("Notifications")
)

// Notifications is every user's inbox: one row per NotificationSent event, whatever
// stream it is in (a run's notifications live in the run's stream).
// RunReader.Notifications reads it. Being a projection, it is rebuilt from the log like any read model and
// holds no transaction open while it works (an outbox consumer did, and stalled sealing).
type Notifications struct{}

// Name implements Projection.
func (Notifications) Name() string { return "notifications" }

// Version implements Projection.
func (Notifications) Version() int { return 1 }

// Tables implements Projection.
func (Notifications) Tables() []Table {
	return []Table{{Name: "rm_notifications_v1", View: "rm_notifications"}}
}

// Apply implements Projection: the batch's notifications in one statement; a
// notification already there (its id) is left alone.
func (p Notifications) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	var ids, users []uuid.UUID
	var runs []pgtype.UUID
	var kinds, titles, bodies, urls []string
	var at []pgtype.Timestamptz
	for _, e := range events {
		n, ok := e.Data.(notify.NotificationSent)
		if !ok {
			continue
		}
		ids, users = append(ids, n.NotificationID), append(users, n.UserID)
		runs = append(runs, pgtype.UUID{Bytes: n.RunID, Valid: n.RunID != uuid.Nil})
		kinds, titles, bodies, urls = append(kinds, n.Kind), append(titles, n.Title), append(bodies, n.Body), append(urls, n.URL)
		at = append(at, pgtype.Timestamptz{Time: e.RecordedAt, Valid: true})
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, sqlNotificationsInsert.For(target.Table(p.Tables()[0].Name)),
		eventstore.UUIDArray(ids), eventstore.UUIDArray(users), runs, kinds, titles, bodies, urls, at)
	return err
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

// Notifications returns a user's newest notifications first.
func (q *RunReader) Notifications(ctx context.Context, userID uuid.UUID, limit int) ([]Notification, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := q.pool.Query(ctx, sqlNotifications, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("projections: notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.RunID, &n.Kind, &n.Title, &n.Body, &n.URL, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("projections: notifications: %w", err)
	}
	return out, nil
}
