package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
)

var (
	sqlDeliveriesOf = sqlQueries.Get("DeliveriesOf")
	sqlAttemptsOf   = sqlQueries.Get("AttemptsOf")
)

// Delivery is one alert for one run, with its attempts.
type Delivery struct {
	ID            uuid.UUID  `json:"id"`
	RuleID        uuid.UUID  `json:"ruleId"`
	RunID         uuid.UUID  `json:"runId"`
	RunURL        string     `json:"runUrl"`
	Event         string     `json:"event"`
	Status        string     `json:"status"`
	AttemptCount  int        `json:"attemptCount"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"` // while pending
	CreatedAt     time.Time  `json:"createdAt"`
	FinishedAt    *time.Time `json:"finishedAt"`
	Attempts      []Attempt  `json:"attempts"`
}

// Attempt is one POST of a delivery: the receiver's status code, or the class of the
// error when there was no answer (connection_refused, timeout, dns, tls, network).
type Attempt struct {
	N          int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode *int      `json:"statusCode"`
	Error      string    `json:"error,omitempty"`
}

// Deliveries lists the newest deliveries (at most limit) of the workspaces the user
// manages, each with its attempts. ErrNotFound, ErrForbidden as for CreateRule.
func (s *Service) Deliveries(ctx context.Context, userID uuid.UUID, limit int) ([]Delivery, error) {
	ws, err := s.managed(ctx, userID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.pool.Query(ctx, sqlDeliveriesOf, eventstore.UUIDArray(ws), limit)
	if err != nil {
		return nil, fmt.Errorf("alerts: deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		var next, finished pgtype.Timestamptz
		err := r.Scan(&d.ID, &d.RuleID, &d.RunID, &d.Event, &d.Status, &d.AttemptCount, &next, &d.CreatedAt, &finished)
		d.RunURL = "/admin/operations/" + d.RunID.String()
		if next.Valid && d.Status == StatusPending {
			t := next.Time.UTC()
			d.NextAttemptAt = &t
		}
		if finished.Valid {
			t := finished.Time.UTC()
			d.FinishedAt = &t
		}
		d.CreatedAt = d.CreatedAt.UTC()
		d.Attempts = []Attempt{}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("alerts: deliveries: %w", err)
	}
	if len(out) == 0 {
		return []Delivery{}, nil
	}
	ids := make([]uuid.UUID, len(out))
	at := make(map[uuid.UUID]int, len(out))
	for i, d := range out {
		ids[i], at[d.ID] = d.ID, i
	}
	rows, err = s.pool.Query(ctx, sqlAttemptsOf, eventstore.UUIDArray(ids))
	if err != nil {
		return nil, fmt.Errorf("alerts: attempts: %w", err)
	}
	var id uuid.UUID
	var a Attempt
	var code pgtype.Int4
	var class pgtype.Text
	_, err = pgx.ForEachRow(rows, []any{&id, &a.N, &a.At, &code, &class}, func() error {
		x := Attempt{N: a.N, At: a.At.UTC(), Error: class.String}
		if code.Valid {
			c := int(code.Int32)
			x.StatusCode = &c
		}
		i := at[id]
		out[i].Attempts = append(out[i].Attempts, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("alerts: attempts: %w", err)
	}
	return out, nil
}
