// Package notify delivers in-app notifications: each is a NotificationSent event in the
// stream of what it is about; the recipient's inbox is a read model built from those
// events (projections.Notifications, read with RunReader.Notifications).
//
// Layering (README.md, "Architecture: layers and imports"): floor 1: it imports only the
// event store and must not import operations or any other module (operations and
// projections build on it), projections, web or cmd/.
package notify

import (
	"embed"
	"fmt"

	"github.com/google/uuid"
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
