package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

const (
	streamPoll     = 500 * time.Millisecond
	streamLifetime = 25 * time.Second // below the server's write timeout; EventSource reconnects
)

// runState is the payload of a "run" server-sent event: what the viewer shows of a
// run that changes while it is active.
type runState struct {
	Status      operations.Status  `json:"status"`
	Outcome     operations.Outcome `json:"outcome"`
	Bucket      operations.Bucket  `json:"bucket"`
	Counts      operations.Counts  `json:"counts"`
	StartedAt   string             `json:"startedAt"`   // RFC 3339, "" until started
	CompletedAt string             `json:"completedAt"` // RFC 3339, "" until ended
	Duration    string             `json:"duration"`
	Reason      string             `json:"reason"` // reason code and message, once failed or blocked
	EventCount  int                `json:"eventCount"`
	Timeline    []timelineEntry    `json:"timeline"`
}

// timelineEntry is one line of the viewer's timeline.
type timelineEntry struct {
	Type    string `json:"type"`
	Version int64  `json:"version"`
	At      string `json:"at"` // RFC 3339
	Summary string `json:"summary"`
}

// timelineOf is the viewer's timeline of a run's events.
func timelineOf(envs []eventstore.Envelope) []timelineEntry {
	out := make([]timelineEntry, len(envs))
	for i, e := range envs {
		out[i] = timelineEntry{Type: e.Type, Version: e.StreamVersion, At: e.RecordedAt.UTC().Format(time.RFC3339), Summary: projections.Summarize(e)}
	}
	return out
}

// stateOf is the stream payload of a run folded from envs.
func stateOf(run *operations.Run, envs []eventstore.Envelope) runState {
	st := runState{Status: run.Status, Outcome: run.Outcome, Bucket: run.Bucket(), Counts: run.Counts,
		EventCount: len(envs), Timeline: timelineOf(envs)}
	if !run.CompletedAt.IsZero() { // while running the page's own clock is as good
		st.Duration = runDuration(&run.StartedAt, &run.CompletedAt)
	}
	if st.Counts == nil {
		st.Counts = operations.Counts{}
	}
	if !run.StartedAt.IsZero() {
		st.StartedAt = run.StartedAt.UTC().Format(time.RFC3339)
	}
	if !run.CompletedAt.IsZero() {
		st.CompletedAt = run.CompletedAt.UTC().Format(time.RFC3339)
	}
	if run.ReasonCode != "" {
		st.Reason = string(run.ReasonCode)
		if run.Message != "" {
			st.Reason += " — " + run.Message
		}
	}
	return st
}

// handleAdminRunStream streams a run's state as server-sent events until it ends.
func (s *Server) handleAdminRunStream(c *fiber.Ctx) error {
	run, err := s.viewableRun(c)
	if err != nil {
		return err
	}
	id := run.ID
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	ops := s.deps.Operations
	logger := s.deps.Logger
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), streamLifetime)
		defer cancel()
		if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || w.Flush() != nil {
			return
		}
		var last []byte
		tick := time.NewTicker(streamPoll)
		defer tick.Stop()
		for {
			envs, err := ops.Events(ctx, id)
			if err != nil {
				if ctx.Err() == nil {
					logger.Error("run stream", "run", id, "error", operations.Sanitize(err.Error()))
				}
				return
			}
			if len(envs) == 0 {
				return
			}
			run := operations.RunFromEvents(envs)
			b, _ := json.Marshal(stateOf(run, envs))
			if string(b) != string(last) {
				last = b
				if _, err := fmt.Fprintf(w, "event: run\ndata: %s\n\n", b); err != nil {
					return
				}
			} else if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			if w.Flush() != nil || run.Terminal() {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return nil
}
