package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds how throttled (429) and unavailable (503, 504) answers are retried.
//
// RetryTransport is the ONLY retry layer of the project's Graph traffic. kiota's default
// middleware (under msgraph-sdk-go) installs a RetryHandler for 429/503/504 of its own;
// graph/msgraph builds its middleware list without it, so a 429 is never retried twice
// over (its tests count the simulator's requests to prove it).
//
// The zero value means the defaults (6 attempts, 60 s, 500 ms base, 30 s cap).
type RetryPolicy struct {
	// MaxAttempts is the number of requests sent at most, the first one included.
	MaxAttempts int
	// MaxElapsed bounds the time from the first request to the last retry: a retry whose
	// wait would end past it is not made, and the last answer is returned.
	MaxElapsed time.Duration
	// BaseDelay is the backoff before the first retry; it doubles with each retry.
	BaseDelay time.Duration
	// MaxDelay caps one computed backoff; a Retry-After wait is bounded by MaxElapsed only.
	MaxDelay time.Duration

	// Sleep waits d or until ctx ends (tests inject a recorder); nil is a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for MaxElapsed and Retry-After dates; nil is time.Now.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the full jitter; nil is math/rand/v2.
	Rand func() float64
}

// The retry defaults.
const (
	DefaultMaxAttempts = 6
	DefaultMaxElapsed  = 60 * time.Second
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 30 * time.Second
)

// WithDefaults fills every unset field of p with its default.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Backoff is the wait before retry number retry (1 for the first retry) when the answer
// carried no Retry-After: full jitter, a uniform draw in [0, min(MaxDelay, BaseDelay·2^(retry-1))].
func (p RetryPolicy) Backoff(retry int) time.Duration {
	p = p.WithDefaults()
	ceiling := p.BaseDelay
	for i := 1; i < retry && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	return time.Duration(p.Rand() * float64(ceiling+1))
}

// Retryable reports whether an HTTP status is retried: 429, 503 and 504.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// KindForStatus maps a failed HTTP status from Graph to its Kind.
func KindForStatus(status int) Kind {
	switch status {
	case http.StatusTooManyRequests:
		return KindThrottled
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return KindUnavailable
	case http.StatusForbidden:
		return KindPermissionDenied
	case http.StatusUnauthorized:
		return KindInvalidClient
	case http.StatusNotFound:
		return KindNotFound
	case http.StatusRequestTimeout:
		return KindTimeout
	default:
		return KindRequestFailed
	}
}

// RetryTransport is an http.RoundTripper that retries 429/503/504 per its policy.
type RetryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	log    *slog.Logger
}

// NewRetryTransport wraps next (http.DefaultTransport when nil) with policy; log may be
// nil. Retries are logged at debug level with the method, the URL path (never the query,
// a header or a body), the status, the attempt and the wait.
func NewRetryTransport(next http.RoundTripper, policy RetryPolicy, log *slog.Logger) *RetryTransport {
	if next == nil {
		next = http.DefaultTransport
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RetryTransport{next: next, policy: policy.WithDefaults(), log: log}
}

// Policy returns the transport's policy with its defaults filled in.
func (t *RetryTransport) Policy() RetryPolicy { return t.policy }

// RoundTrip sends req, retrying 429/503/504 within the policy's bounds. After the last
// attempt the last answer is returned as it is (the caller maps its status to a Kind).
// A request body is buffered once so that every attempt sends it whole.
func (t *RetryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	getBody, buffered, err := replayableBody(req)
	if err != nil {
		return nil, err
	}
	p := t.policy
	start := p.Now()
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 || buffered {
			r = req.Clone(ctx)
			if getBody != nil {
				if r.Body, err = getBody(); err != nil {
					return nil, err
				}
				r.GetBody = getBody
			}
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, err
		}
		if !Retryable(resp.StatusCode) || attempt >= p.MaxAttempts {
			return resp, nil
		}
		// Retry-After is honoured as given (never shortened): when it does not fit
		// the MaxElapsed budget the retry is not made at all.
		wait, ok := RetryAfter(resp.Header, p.Now())
		if !ok {
			wait = p.Backoff(attempt)
		}
		if p.Now().Add(wait).Sub(start) > p.MaxElapsed {
			t.log.Debug("graph retry budget spent", "method", req.Method, "path", req.URL.Path,
				"status", resp.StatusCode, "attempt", attempt, "wait", wait)
			return resp, nil
		}
		// The answer is dropped: drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
		t.log.Debug("graph retry", "method", req.Method, "path", req.URL.Path,
			"status", resp.StatusCode, "attempt", attempt, "wait", wait, "retry_after", ok)
		if err := p.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// RetryAfter reads a Retry-After header in either form (delta seconds or an HTTP date,
// relative to now); false when absent or unreadable. A date in the past is a zero wait.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// replayableBody returns a function giving a fresh copy of req's body (nil when there is
// no body). When the request has no GetBody the body is read into memory once and
// buffered is true: every attempt then sends a clone, the caller's request is not changed.
func replayableBody(req *http.Request) (getBody func() (io.ReadCloser, error), buffered bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, false, nil
	}
	if req.GetBody != nil {
		return req.GetBody, false, nil
	}
	buf, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, false, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }, true, nil
}

// sleepCtx waits d, or returns ctx's error when it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrorFromContext maps a context error to a KindTimeout *Error (deadline) or returns
// the context error itself (cancelled); nil when err is neither.
func ErrorFromContext(objectType string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindTimeout, ObjectType: objectType, Message: "no answer from Graph before the deadline", Err: context.DeadlineExceeded}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindTimeout, ObjectType: objectType, Message: "the call was cancelled", Err: context.Canceled}
	default:
		return nil
	}
}
