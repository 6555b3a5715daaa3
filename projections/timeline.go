package projections

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/notify"
	"github.com/tenantatlas/ops/modules/operations"
)

// sqlTimelineInsert (apply.sql) is run_timeline's Apply.
var (
	sqlTimelineInsert = sqlQueries.Table("TimelineInsert")
)

// RunTimeline is the viewer's event timeline: one row per run event with a one-line
// summary an operator can read.
type RunTimeline struct{}

// Name implements Projection.
func (RunTimeline) Name() string { return "run_timeline" }

// Version implements Projection.
func (RunTimeline) Version() int { return 1 }

// Tables implements Projection.
func (RunTimeline) Tables() []Table {
	return []Table{{Name: "rm_run_timeline_v1", View: "rm_run_timeline"}}
}

// Apply implements Projection: a row per run event, the batch's in one statement.
func (p RunTimeline) Apply(ctx context.Context, tx pgx.Tx, target Target, events []eventstore.Envelope) error {
	var (
		runs                 []uuid.UUID
		versions, positions  []int64
		types, actors, lines []string
		times                []time.Time
	)
	for _, e := range events {
		if e.StreamType != operations.StreamType {
			continue
		}
		runs, versions, positions = append(runs, e.StreamIDUUID()), append(versions, e.StreamVersion), append(positions, e.Position)
		types, actors, lines = append(types, e.Type), append(actors, e.Metadata.Actor), append(lines, Summarize(e))
		times = append(times, e.RecordedAt)
	}
	if len(runs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, sqlTimelineInsert.For(target.Table(p.Tables()[0].Name)),
		eventstore.UUIDArray(runs), versions, positions, types, times, actors, lines)
	return err
}

// Summarize says in one line what a run event means.
func Summarize(e eventstore.Envelope) string {
	switch ev := e.Data.(type) {
	case operations.RunQueued:
		return fmt.Sprintf("Queued by %s via %s", ev.Initiator.Name, orDash(ev.SourceSurface))
	case operations.RunStarted:
		return "Started by " + ev.WorkerID
	case operations.RunProgressed:
		keys := make([]string, 0, len(ev.Delta))
		for k := range ev.Delta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s +%d", k, ev.Delta[k])
		}
		return "Progress: " + strings.Join(parts, ", ")
	case operations.RunFailuresAppended:
		if ev.Omitted > 0 {
			return fmt.Sprintf("%d item failure(s) recorded, %d more counted only", len(ev.Failures), ev.Omitted)
		}
		return fmt.Sprintf("%d item failure(s) recorded", len(ev.Failures))
	case operations.RunCompleted:
		return "Completed: " + string(ev.Outcome)
	case operations.RunFailed:
		return "Failed: " + string(ev.ReasonCode)
	case operations.RunBlocked:
		return "Blocked at the start gate: " + string(ev.ReasonCode)
	case operations.RunCancelled:
		return "Cancelled"
	case operations.RunStaleTimedOut:
		return "Timed out: " + string(ev.ReasonCode)
	case operations.RunDispatchFailed:
		return "Could not be dispatched"
	case operations.LegacyRunImported:
		return "Imported from " + ev.Table
	case operations.LegacyRunLinked:
		return fmt.Sprintf("Linked to %s #%d", ev.Table, ev.LegacyID)
	case operations.RunLinked:
		return "Linked: " + ev.Kind.Label() + " " + ev.ID.String()
	case notify.NotificationSent:
		return "Initiator notified: " + ev.Title
	default:
		return e.Type
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TimelineEntry is one line of a run's timeline.
type TimelineEntry struct {
	StreamVersion int64     `json:"streamVersion"`
	Position      int64     `json:"position"`
	Type          string    `json:"type"`
	RecordedAt    time.Time `json:"recordedAt"`
	Actor         string    `json:"actor"`
	Summary       string    `json:"summary"`
}
