package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

const (
	streamLifetime   = 25 * time.Second // below the server's write timeout; EventSource reconnects
	streamRetryAfter = 10               // seconds, on a 429 or 503 of the stream
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
	Reason      string             `json:"reason"`                // reason code and message, once failed or blocked
	ShortReason string             `json:"shortReason,omitempty"` // the reason code's label
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
		st.ShortReason, _ = operations.ReasonInfo(run.ReasonCode)
	}
	return st
}

// loadRunState is the stream payload of a run, read once per change for all of its
// viewers (the run's own events: the page's source, and complete at commit).
func (s *Server) loadRunState(ctx context.Context, id uuid.UUID) (*streamState, error) {
	envs, err := s.deps.Operations.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(envs) == 0 {
		return &streamState{end: true}, nil
	}
	run := operations.RunFromEvents(envs)
	b, err := json.Marshal(stateOf(run, envs))
	if err != nil {
		return nil, fmt.Errorf("run stream: encode: %w", err)
	}
	return &streamState{data: b, end: run.Terminal()}, nil
}

// handleAdminRunStream streams a run's state as server-sent events until it ends. The
// stream holds no database connection while it waits: the process's one listener
// wakes it (see streamHub), and open streams are capped per user and per process.
func (s *Server) handleAdminRunStream(c *fiber.Ctx) error {
	run, err := s.viewableRun(c)
	if err != nil {
		return err
	}
	return s.serveRunStream(c, currentUser(c).ID, run.ID)
}

// serveRunStream streams run's state to viewer (a hub user or a platform user: the
// per-user cap counts by this id) once the caller was authorized.
func (s *Server) serveRunStream(c *fiber.Ctx, viewer, run uuid.UUID) error {
	sub, err := s.streams.subscribe(viewer, run)
	if errors.Is(err, errTooManyStreams) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(streamRetryAfter))
		return fiber.NewError(fiber.StatusTooManyRequests, "Too many live views are open. Close some, or reload this page in a moment.")
	}
	if err != nil {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(streamRetryAfter))
		return fiber.NewError(fiber.StatusServiceUnavailable, "Live updates are not available right now. Reload this page in a moment.")
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	hub, log := s.streams, s.deps.Logger
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer hub.unsubscribe(sub) // every way out frees the slot
		// The writer runs in a goroutine of its own, out of the recover middleware's reach.
		defer func() {
			if p := recover(); p != nil {
				log.Error("run stream panicked", "run", sub.run, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		writeStream(w, sub, hub.cfg.Heartbeat)
	})
	return nil
}

// writeStream writes sub's states to w until the run ends, the client goes (a write
// fails), the hub stops or the stream's lifetime is over.
func writeStream(w *bufio.Writer, sub *subscriber, heartbeat time.Duration) {
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || w.Flush() != nil {
		return
	}
	lifetime := time.NewTimer(streamLifetime)
	defer lifetime.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	var last []byte
	for {
		select {
		case <-sub.wake:
			st := sub.take()
			if st == nil {
				continue
			}
			if st.data != nil && !bytes.Equal(st.data, last) {
				last = st.data
				if _, err := fmt.Fprintf(w, "event: run\ndata: %s\n\n", st.data); err != nil {
					return
				}
			}
			if w.Flush() != nil || st.end {
				return
			}
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || w.Flush() != nil {
				return
			}
		case <-lifetime.C:
			return
		case <-sub.done:
			return
		}
	}
}
