package web

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestStreamHubCoalesces: a burst of changes to a watched run costs a few loads, not
// one each (a change during a load marks one more); a viewer that never reads holds
// only the newest state, not a queue, and never holds up the listener's callback or
// the other viewer, who ends on the newest state.
func TestStreamHubCoalesces(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	load := func(ctx context.Context, id uuid.UUID) (*streamState, error) {
		n := loads.Add(1)
		time.Sleep(2 * time.Millisecond) // a query's worth of time, so changes pile up meanwhile
		return &streamState{data: []byte(strconv.FormatInt(n, 10))}, nil
	}
	h := newStreamHub(StreamConfig{}, load, slog.New(slog.DiscardHandler))
	run := uuid.New()
	slow, err := h.subscribe(uuid.New(), run)
	require.NoError(t, err)
	fast, err := h.subscribe(uuid.New(), run)
	require.NoError(t, err)

	start := time.Now()
	for range 1000 {
		h.changed([]uuid.UUID{run})
	}
	h.changed([]uuid.UUID{uuid.New()}) // a run nobody watches: no load
	require.Less(t, time.Since(start), time.Second, "the listener's callback never waits for a load or a viewer")

	// The fast viewer reads until the hub is idle; the last state it got is the last load.
	var last string
	require.Eventually(t, func() bool {
		for {
			select {
			case <-fast.wake:
				if st := fast.take(); st != nil {
					last = string(st.data)
				}
				continue
			default:
			}
			break
		}
		h.mu.Lock()
		idle := h.topics[run] != nil && !h.topics[run].loading
		h.mu.Unlock()
		return idle && last == strconv.FormatInt(loads.Load(), 10)
	}, 10*time.Second, time.Millisecond)
	require.Less(t, loads.Load(), int64(100), "1000 changes in a burst coalesce into a few loads")

	// The slow viewer never read: one pending state, the newest.
	st := slow.take()
	require.NotNil(t, st)
	require.Equal(t, last, string(st.data))
	require.Nil(t, slow.take())

	h.unsubscribe(slow)
	h.unsubscribe(fast)
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Empty(t, h.topics, "a run nobody watches is forgotten")
	require.Zero(t, h.open)
	require.Empty(t, h.perUser)
}
