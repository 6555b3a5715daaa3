package graph_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph"
)

// fakeClock is a clock that only moves when the policy sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) policy(p graph.RetryPolicy) graph.RetryPolicy {
	p.Now, p.Sleep = c.Now, c.Sleep
	return p
}

// scripted answers each request with the next status of its script, then 200; it
// records every request body.
type scripted struct {
	srv     *httptest.Server
	n       atomic.Int64
	mu      sync.Mutex
	bodies  []string
	headers func(i int, h http.Header)
}

func newScripted(t *testing.T, statuses ...int) *scripted {
	s := &scripted{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(s.n.Add(1)) - 1
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		if s.headers != nil {
			s.headers(i, w.Header())
		}
		if i < len(statuses) {
			w.WriteHeader(statuses[i])
			_, _ = io.WriteString(w, `{"error":{"code":"x","message":"y"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"value":[]}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func repeat(status, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = status
	}
	return out
}

func TestRetryAfterForms(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999", 24 * time.Hour, true},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		got, ok := graph.RetryAfter(h, now)
		require.Equal(t, tc.ok, ok, tc.value)
		require.Equal(t, tc.want, got, tc.value)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	t.Parallel()
	p := graph.RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	p.Rand = func() float64 { return 0 }
	for retry := 1; retry < 10; retry++ {
		require.Equal(t, time.Duration(0), p.Backoff(retry))
	}
	p.Rand = func() float64 { return 0.999999999 }
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		got := p.Backoff(i + 1)
		require.InDelta(t, float64(w*time.Millisecond), float64(got), float64(time.Millisecond), "retry %d", i+1)
	}
	p.Rand = func() float64 { return 0.5 }
	require.Equal(t, 200*time.Millisecond, p.Backoff(3).Round(time.Millisecond))
	// The default source stays within the ceiling.
	p.Rand = nil
	for range 1000 {
		d := p.Backoff(2)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, 200*time.Millisecond)
	}
}

func TestRetryTransportRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	s := newScripted(t, 429, 503, 504, 429)
	s.headers = func(i int, h http.Header) {
		if i == 0 {
			h.Set("Retry-After", "3")
		}
	}
	clock := newFakeClock()
	p := clock.policy(graph.RetryPolicy{MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond})
	p.Rand = func() float64 { return 0.5 }
	c := &http.Client{Transport: graph.NewRetryTransport(nil, p, nil)}
	resp, err := c.Get(s.srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.EqualValues(t, 5, s.n.Load())
	require.Len(t, clock.sleeps, 4)
	// Retry-After is honoured as given, even above MaxDelay; then the jittered backoff:
	// half of 1, 2 and 4 ms (Rand = 0.5).
	require.Equal(t, 3*time.Second, clock.sleeps[0])
	require.InDelta(t, float64(time.Millisecond), float64(clock.sleeps[1]), float64(time.Microsecond))
	require.InDelta(t, float64(2*time.Millisecond), float64(clock.sleeps[2]), float64(time.Microsecond))
	require.InDelta(t, float64(4*time.Millisecond), float64(clock.sleeps[3]), float64(time.Microsecond))
}

func TestRetryTransportGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	for _, status := range []int{429, 503, 504} {
		s := newScripted(t, repeat(status, 50)...)
		clock := newFakeClock()
		p := clock.policy(graph.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond})
		c := &http.Client{Transport: graph.NewRetryTransport(nil, p, nil)}
		resp, err := c.Get(s.srv.URL)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, status, resp.StatusCode)
		require.EqualValues(t, 4, s.n.Load(), "status %d", status)
		require.Len(t, clock.sleeps, 3)
	}
}

func TestRetryTransportMaxElapsed(t *testing.T) {
	t.Parallel()
	s := newScripted(t, repeat(429, 50)...)
	s.headers = func(_ int, h http.Header) { h.Set("Retry-After", "10") }
	clock := newFakeClock()
	p := clock.policy(graph.RetryPolicy{MaxAttempts: 50, MaxElapsed: 25 * time.Second})
	c := &http.Client{Transport: graph.NewRetryTransport(nil, p, nil)}
	resp, err := c.Get(s.srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	// Waits of 10 s end at 10 s and 20 s; a third would end at 30 s > 25 s: not made.
	require.EqualValues(t, 3, s.n.Load())
	require.Equal(t, []time.Duration{10 * time.Second, 10 * time.Second}, clock.sleeps)
}

func TestRetryTransportHTTPDate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := newScripted(t, 503)
	s.headers = func(i int, h http.Header) {
		if i == 0 {
			h.Set("Retry-After", clock.Now().Add(42*time.Second).Format(http.TimeFormat))
		}
	}
	c := &http.Client{Transport: graph.NewRetryTransport(nil, clock.policy(graph.RetryPolicy{}), nil)}
	resp, err := c.Get(s.srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, []time.Duration{42 * time.Second}, clock.sleeps)
}

func TestRetryTransportDoesNotRetryOtherStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 500, 502} {
		s := newScripted(t, status)
		c := &http.Client{Transport: graph.NewRetryTransport(nil, newFakeClock().policy(graph.RetryPolicy{}), nil)}
		resp, err := c.Get(s.srv.URL)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, status, resp.StatusCode)
		require.EqualValues(t, 1, s.n.Load())
	}
}

// onlyReader hides strings.Reader's type so net/http cannot set GetBody itself.
type onlyReader struct{ io.Reader }

func TestRetryTransportReplaysBody(t *testing.T) {
	t.Parallel()
	s := newScripted(t, 429, 503)
	c := &http.Client{Transport: graph.NewRetryTransport(nil, newFakeClock().policy(graph.RetryPolicy{BaseDelay: time.Millisecond}), nil)}
	req, err := http.NewRequest(http.MethodPost, s.srv.URL, onlyReader{strings.NewReader("grant_type=client_credentials")})
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, []string{"grant_type=client_credentials", "grant_type=client_credentials", "grant_type=client_credentials"}, s.bodies)
}

func TestRetryTransportContext(t *testing.T) {
	t.Parallel()
	s := newScripted(t, repeat(429, 50)...)
	s.headers = func(_ int, h http.Header) { h.Set("Retry-After", "30") }
	// A real sleep: the deadline ends the wait long before Retry-After.
	c := &http.Client{Transport: graph.NewRetryTransport(nil, graph.RetryPolicy{MaxElapsed: time.Hour}, nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL, nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Do(req)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.EqualValues(t, 1, s.n.Load())

	ge := graph.ErrorFromContext("groups", err)
	require.Equal(t, graph.KindTimeout, graph.KindOf(ge))
	require.ErrorIs(t, ge, context.DeadlineExceeded)
	require.True(t, errors.Is(graph.ErrorFromContext("groups", context.Canceled), context.Canceled))
	require.Nil(t, graph.ErrorFromContext("groups", errors.New("other")))
}

func TestKindForStatus(t *testing.T) {
	t.Parallel()
	for status, kind := range map[int]graph.Kind{
		429: graph.KindThrottled, 503: graph.KindUnavailable, 504: graph.KindUnavailable,
		403: graph.KindPermissionDenied, 404: graph.KindNotFound, 401: graph.KindInvalidClient,
		500: graph.KindRequestFailed, 400: graph.KindRequestFailed,
	} {
		require.Equal(t, kind, graph.KindForStatus(status), status)
	}
	for _, st := range []int{429, 503, 504} {
		require.True(t, graph.Retryable(st))
	}
	for _, st := range []int{200, 400, 401, 403, 404, 500, 502} {
		require.False(t, graph.Retryable(st))
	}
}
