package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/operations"
)

const (
	streamPoll     = 500 * time.Millisecond
	streamLifetime = 25 * time.Second // below the server's write timeout; EventSource reconnects
)

// runState is the payload of a "run" server-sent event.
type runState struct {
	Status     operations.Status  `json:"status"`
	Outcome    operations.Outcome `json:"outcome"`
	Bucket     operations.Bucket  `json:"bucket"`
	Counts     operations.Counts  `json:"counts"`
	EventCount int                `json:"eventCount"`
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
			st := runState{Status: run.Status, Outcome: run.Outcome, Bucket: run.Bucket(), Counts: run.Counts, EventCount: len(envs)}
			if st.Counts == nil {
				st.Counts = operations.Counts{}
			}
			b, _ := json.Marshal(st)
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
