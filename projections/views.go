package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The statements of readers.sql for saved views.
var (
	sqlSavedViewUpsert = sqlQueries.Get("SavedViewUpsert")
	sqlSavedViewsList  = sqlQueries.Get("SavedViewsList")
	sqlSavedViewDelete = sqlQueries.Get("SavedViewDelete")
)

// MaxSavedViews is how many saved views one user keeps.
const MaxSavedViews = 50

// ErrTooManyViews is returned when a user with MaxSavedViews views saves a new name.
var ErrTooManyViews = errors.New("projections: too many saved views")

// SavedView is a user's named run list URL (path and filters), user data beside the read
// models (saved_views), untouched by rebuilds.
type SavedView struct {
	// Name is the user's name of the view, unique per user.
	Name string
	// URL is the hub path and query the view opens.
	URL string
	// CreatedAt is when the view was (last) saved.
	CreatedAt time.Time
}

// SaveView saves a view of the user's under name (the same name again replaces its URL);
// ErrTooManyViews beyond MaxSavedViews names. The caller validates name and url.
func (q *RunReader) SaveView(ctx context.Context, userID uuid.UUID, name, url string, at time.Time) error {
	tag, err := q.pool.Exec(ctx, sqlSavedViewUpsert, userID, name, url, at, MaxSavedViews)
	if err != nil {
		return fmt.Errorf("projections: save view: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrTooManyViews
	}
	return nil
}

// SavedViews lists the user's saved views by name.
func (q *RunReader) SavedViews(ctx context.Context, userID uuid.UUID) ([]SavedView, error) {
	var views []SavedView
	if err := q.sendQueued(ctx, func(b *pgx.Batch) { q.QueueSavedViews(b, userID, &views) }); err != nil {
		return nil, err
	}
	return views, nil
}

// QueueSavedViews queues SavedViews' query on b, for a caller that sends it with others
// in one round trip: once b's results are read, *views holds its answer (a failure is
// the batch's error).
func (q *RunReader) QueueSavedViews(b *pgx.Batch, userID uuid.UUID, views *[]SavedView) {
	b.Queue(sqlSavedViewsList, userID).Query(func(rows pgx.Rows) error {
		out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SavedView])
		if err != nil {
			return fmt.Errorf("projections: saved views: %w", err)
		}
		*views = out
		return nil
	})
}

// DeleteView deletes the user's view name (none: no change).
func (q *RunReader) DeleteView(ctx context.Context, userID uuid.UUID, name string) error {
	if _, err := q.pool.Exec(ctx, sqlSavedViewDelete, userID, name); err != nil {
		return fmt.Errorf("projections: delete view: %w", err)
	}
	return nil
}
