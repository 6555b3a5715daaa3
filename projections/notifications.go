package projections

import (
	"context"
	"errors"
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
	sqlNotificationsUnread = sqlQueries.Get("NotificationsUnread")
	sqlNotificationsMenu   = sqlQueries.Get("NotificationsMenu")
	sqlNotificationRead    = sqlQueries.Get("NotificationMarkRead")
	sqlNotificationsRead   = sqlQueries.Get("NotificationsMarkAllRead")
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
	// ReadAt is when the user marked it read; nil while unread.
	ReadAt *time.Time `json:"readAt"`
}

// Notifications returns a user's newest notifications first.
func (q *RunReader) Notifications(ctx context.Context, userID uuid.UUID, limit int) ([]Notification, error) {
	list, _, err := q.NotificationsPage(ctx, userID, "", limit)
	return list, err
}

// NotificationsPage returns one page of a user's notifications, newest first, and the
// cursor of the next page ("" on the last); cursor "" is the first page, a cursor this
// service did not make is ErrBadCursor.
func (q *RunReader) NotificationsPage(ctx context.Context, userID uuid.UUID, cursor string, limit int) ([]Notification, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var after pgtype.Timestamptz
	var afterID pgtype.UUID
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		after, afterID = pgtype.Timestamptz{Time: at, Valid: true}, pgtype.UUID{Bytes: id, Valid: true}
	}
	rows, err := q.pool.Query(ctx, sqlNotifications, userID, after, afterID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("projections: notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.RunID, &n.Kind, &n.Title, &n.Body, &n.URL, &n.CreatedAt, &n.ReadAt)
		return n, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("projections: notifications: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

// UnreadNotifications counts the user's notifications not marked read.
func (q *RunReader) UnreadNotifications(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	if err := q.pool.QueryRow(ctx, sqlNotificationsUnread, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("projections: unread notifications: %w", err)
	}
	return n, nil
}

// NotificationsMenu returns what the layout's notifications menu shows in one query:
// the user's newest notifications (at most limit, 1..200, as Notifications) and how
// many of the user's notifications are unread (as UnreadNotifications).
func (q *RunReader) NotificationsMenu(ctx context.Context, userID uuid.UUID, limit int) ([]Notification, int, error) {
	var out []Notification
	var unread int
	if err := q.sendQueued(ctx, func(b *pgx.Batch) { q.QueueNotificationsMenu(b, userID, limit, &out, &unread) }); err != nil {
		return nil, 0, err
	}
	return out, unread, nil
}

// sendQueued sends what queue queues on a batch of its own (a Queue… method asked alone).
func (q *RunReader) sendQueued(ctx context.Context, queue func(*pgx.Batch)) error {
	b := &pgx.Batch{}
	queue(b)
	return q.pool.SendBatch(ctx, b).Close()
}

// QueueNotificationsMenu queues NotificationsMenu's query on b, for a caller that sends
// it with others in one round trip: once b's results are read, *notes and *unread hold
// its answer (a failure is the batch's error).
func (q *RunReader) QueueNotificationsMenu(b *pgx.Batch, userID uuid.UUID, limit int, notes *[]Notification, unread *int) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	b.Queue(sqlNotificationsMenu, userID, limit).Query(func(rows pgx.Rows) error {
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
			var n Notification
			err := r.Scan(&n.ID, &n.RunID, &n.Kind, &n.Title, &n.Body, &n.URL, &n.CreatedAt, &n.ReadAt, unread)
			return n, err
		})
		if err != nil {
			return fmt.Errorf("projections: notifications menu: %w", err)
		}
		*notes = out
		return nil
	})
}

// ErrNoNotification: no such notification among the user's (another user's is not theirs to mark).
var ErrNoNotification = errors.New("projections: no such notification")

// MarkNotificationRead marks one of the user's notifications read (again: no change).
// The read state (inbox_reads) is the user's data, not a read model of the log: rebuilds
// leave it alone. ErrNoNotification when the notification is not the user's.
func (q *RunReader) MarkNotificationRead(ctx context.Context, userID, id uuid.UUID, at time.Time) error {
	var own int
	if err := q.pool.QueryRow(ctx, sqlNotificationRead, userID, id, at).Scan(&own); err != nil {
		return fmt.Errorf("projections: mark notification read: %w", err)
	}
	if own == 0 {
		return ErrNoNotification
	}
	return nil
}

// MarkAllNotificationsRead marks every notification of the user read.
func (q *RunReader) MarkAllNotificationsRead(ctx context.Context, userID uuid.UUID, at time.Time) error {
	if _, err := q.pool.Exec(ctx, sqlNotificationsRead, userID, at); err != nil {
		return fmt.Errorf("projections: mark all notifications read: %w", err)
	}
	return nil
}
