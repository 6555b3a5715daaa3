package web

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// A run list is filtered the same way on the hub (/admin/operations, a tenant's
// operations) and the API (GET /api/v1/operations): one parser reads the filters, so a
// value means the same on both and a bad value gets the same 422 message on both.

// runListSurface is where a run list is asked for: the surfaces differ only in which
// parameters they read, never in what a value means.
type runListSurface int

const (
	// surfaceHub is a hub page: the tenant comes from the path, the page size is fixed.
	surfaceHub runListSurface = iota
	// surfaceAPI is the JSON API: ?tenant= narrows, ?limit= sizes the page.
	surfaceAPI
)

// runListLimit is a run list's page size when the caller names none.
const runListLimit = 50

// The 422 messages of the run list filters, the same on every surface.
const (
	msgRunType   = "type must be the name of an operation type, like inventory.sync."
	msgRunRange  = "range must be one of 24h, 7d, 30d."
	msgRunTime   = " must be a time like 2026-01-31T14:00:00Z, or 2026-01-31T14:00 (UTC)."
	msgRunCursor = "The cursor (page link) is no longer valid; start from the first page."
)

// msgRunBucket names the buckets a run list may be filtered by.
var msgRunBucket = func() string {
	names := make([]string, 0, 5)
	for _, b := range operations.Buckets() {
		names = append(names, string(b))
	}
	return "bucket must be one of " + strings.Join(names, ", ") + "."
}()

// runRanges are the hub's "Queued" presets: how far back each reaches from now.
var runRanges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// datetimeLocal is the layout of an <input type="datetime-local"> value (read as UTC).
const datetimeLocal = "2006-01-02T15:04"

// runListQuery is a run list's filters as the caller spelled them (the bucket
// normalized), for the filter form to show and the next-page link to carry.
type runListQuery struct {
	Tenant, Type, Bucket, Range, Since, Until, Search string
}

// Filtered reports whether any filter is set.
func (q runListQuery) Filtered() bool { return q != runListQuery{} }

// values are the set filters as query parameters, plus cursor when it is not empty.
func (q runListQuery) values(cursor string) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"tenant": q.Tenant, "type": q.Type, "bucket": q.Bucket,
		"range": q.Range, "since": q.Since, "until": q.Until, "q": q.Search, "cursor": cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

// parseRunFilter reads a run list's filters — tenant (API), type, bucket, range (a
// preset: 24h, 7d or 30d back from now), since and until (bounds on queued_at; an
// explicit since wins over range), q (a search: projections.ParseRunSearch), cursor and limit (API; the hub's page is
// runListLimit) — into a filter, and the values to echo. Any bad value is a 422 whose
// message is the same on both surfaces. The filter is not yet restricted to what the
// caller may see (restrictToVisible).
func parseRunFilter(c *fiber.Ctx, surface runListSurface, now time.Time) (projections.RunFilter, runListQuery, error) {
	f := projections.RunFilter{Limit: runListLimit}
	q := runListQuery{Type: c.Query("type"), Range: c.Query("range"), Since: c.Query("since"), Until: c.Query("until")}
	var err error
	if surface == surfaceAPI {
		if f.Tenant, err = queryUUID(c, "tenant", fiber.StatusUnprocessableEntity); err != nil {
			return f, q, err
		}
		if f.Tenant != uuid.Nil {
			q.Tenant = f.Tenant.String()
		}
	}
	if q.Type != "" {
		if _, ok := operations.LookupType(q.Type); !ok {
			return f, q, fiber.NewError(fiber.StatusUnprocessableEntity, msgRunType)
		}
		f.Type = q.Type
	}
	if raw := c.Query("bucket"); raw != "" {
		if f.Bucket, err = operations.ParseBucket(raw); err != nil {
			return f, q, fiber.NewError(fiber.StatusUnprocessableEntity, msgRunBucket)
		}
		q.Bucket = string(f.Bucket)
	}
	if q.Range != "" {
		back, ok := runRanges[q.Range]
		if !ok {
			return f, q, fiber.NewError(fiber.StatusUnprocessableEntity, msgRunRange)
		}
		f.Since = now.Add(-back)
	}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		t, err := queryRunTime(c, b.name)
		if err != nil {
			return f, q, err
		}
		if !t.IsZero() {
			*b.dst = t
		}
	}
	if f.Search, q.Search, err = querySearch(c); err != nil {
		return f, q, err
	}
	if f.Cursor, err = queryCursor(c, msgRunCursor); err != nil {
		return f, q, err
	}
	if surface == surfaceAPI {
		if f.Limit, err = queryLimit(c, runListLimit); err != nil {
			return f, q, err
		}
	}
	return f, q, nil
}

// queryRunTime reads the time parameter name of a run list: RFC 3339 (the API's
// spelling) or a datetime-local value read as UTC (the hub form's); zero when absent.
func queryRunTime(c *fiber.Ctx, name string) (time.Time, error) {
	t, err := queryTime(c, name, time.RFC3339, name+msgRunTime)
	if err != nil {
		t, err = queryTime(c, name, datetimeLocal, name+msgRunTime)
	}
	return t, err
}

// badRunCursor maps the reader's ErrBadCursor (a well-formed cursor this service did not
// make) to the cursor's 422.
func badRunCursor() error {
	return fiber.NewError(fiber.StatusUnprocessableEntity, msgRunCursor)
}

// msgSearchTimeout is the 503 of a search the database cancelled at its timeout.
const msgSearchTimeout = "The search took too long and was stopped; narrow it (a tenant, a type, a time range) and try again."

// runListError maps the reader's errors a caller can act on: a bad cursor (422) and a
// search past its statement timeout (503); others pass through.
func runListError(err error) error {
	switch {
	case errors.Is(err, projections.ErrBadCursor):
		return badRunCursor()
	case errors.Is(err, projections.ErrSearchTimeout):
		return fiber.NewError(fiber.StatusServiceUnavailable, msgSearchTimeout)
	}
	return err
}
