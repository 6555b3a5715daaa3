package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// parseRunFilterQuery runs parseRunFilter over the query string qs on surface, in a
// bare fiber app (no database, no middleware).
func parseRunFilterQuery(t *testing.T, surface runListSurface, qs string, now time.Time) (projections.RunFilter, runListQuery, error) {
	t.Helper()
	var (
		f   projections.RunFilter
		q   runListQuery
		err error
	)
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		f, q, err = parseRunFilter(c, surface, now)
		return nil
	})
	resp, terr := app.Test(httptest.NewRequest("GET", "/?"+qs, nil))
	require.NoError(t, terr)
	require.NoError(t, resp.Body.Close())
	return f, q, err
}

// TestParseRunFilter: the hub and the API read a run list's filters with one parser: the
// same values mean the same filter, and every bad value is the same 422 on both.
func TestParseRunFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tenant := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	both := []runListSurface{surfaceHub, surfaceAPI}

	valid := []struct {
		name     string
		surfaces []runListSurface
		query    string
		want     projections.RunFilter
		echo     runListQuery
	}{
		{"no filters", both, "",
			projections.RunFilter{Limit: 50}, runListQuery{}},
		{"type and bucket (any case)", both, "type=inventory.sync&bucket=Partially_Succeeded",
			projections.RunFilter{Type: "inventory.sync", Bucket: operations.BucketPartiallySucceeded, Limit: 50},
			runListQuery{Type: "inventory.sync", Bucket: "partially_succeeded"}},
		{"RFC 3339 times", both, "since=2026-01-31T14:00:00Z&until=2026-02-01T00:00:00%2B01:00",
			projections.RunFilter{Since: time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC), Until: time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), Limit: 50},
			runListQuery{Since: "2026-01-31T14:00:00Z", Until: "2026-02-01T00:00:00+01:00"}},
		{"datetime-local times are UTC", both, "since=2026-01-31T14:00&until=2026-02-01T09:30",
			projections.RunFilter{Since: time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC), Until: time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC), Limit: 50},
			runListQuery{Since: "2026-01-31T14:00", Until: "2026-02-01T09:30"}},
		{"range preset 24h", both, "range=24h",
			projections.RunFilter{Since: now.Add(-24 * time.Hour), Limit: 50}, runListQuery{Range: "24h"}},
		{"range preset 7d", both, "range=7d",
			projections.RunFilter{Since: now.Add(-7 * 24 * time.Hour), Limit: 50}, runListQuery{Range: "7d"}},
		{"range preset 30d with until", both, "range=30d&until=2026-03-01T00:00",
			projections.RunFilter{Since: now.Add(-30 * 24 * time.Hour), Until: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Limit: 50},
			runListQuery{Range: "30d", Until: "2026-03-01T00:00"}},
		{"an explicit since wins over range", both, "range=24h&since=2026-01-01T00:00",
			projections.RunFilter{Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 50},
			runListQuery{Range: "24h", Since: "2026-01-01T00:00"}},
		{"cursor", both, "cursor=AbC-_09",
			projections.RunFilter{Cursor: "AbC-_09", Limit: 50}, runListQuery{}},
		{"tenant on the API", []runListSurface{surfaceAPI}, "tenant=" + tenant.String(),
			projections.RunFilter{Tenant: tenant, Limit: 50}, runListQuery{Tenant: tenant.String()}},
		{"the hub's tenant is its path, ?tenant= is not read", []runListSurface{surfaceHub}, "tenant=acme",
			projections.RunFilter{Limit: 50}, runListQuery{}},
		{"limit on the API", []runListSurface{surfaceAPI}, "limit=3",
			projections.RunFilter{Limit: 3}, runListQuery{}},
		{"limit above 200 is clamped", []runListSurface{surfaceAPI}, "limit=1000",
			projections.RunFilter{Limit: 200}, runListQuery{}},
		{"a limit too long for int64 is clamped", []runListSurface{surfaceAPI}, "limit=99999999999999999999",
			projections.RunFilter{Limit: 200}, runListQuery{}},
		{"the hub's page size is fixed, ?limit= is not read", []runListSurface{surfaceHub}, "limit=0",
			projections.RunFilter{Limit: 50}, runListQuery{}},
		{"a search", both, "q=+policyType:deviceConfiguration%20id:AB12+",
			projections.RunFilter{Search: projections.RunSearch{IDPrefix: "ab12",
				Context: []projections.ContextTerm{{Key: "policyTypes", Value: "deviceConfiguration"}}}, Limit: 50},
			runListQuery{Search: "policyType:deviceConfiguration id:AB12"}},
	}
	for _, tc := range valid {
		for _, surface := range tc.surfaces {
			f, q, err := parseRunFilterQuery(t, surface, tc.query, now)
			require.NoError(t, err, "%s (surface %d)", tc.name, surface)
			f.Since, f.Until = f.Since.UTC(), f.Until.UTC() // the same instants, compared in one zone
			require.Equal(t, tc.want, f, "%s (surface %d)", tc.name, surface)
			require.Equal(t, tc.echo, q, "%s (surface %d)", tc.name, surface)
		}
	}

	bad := []struct {
		query    string
		surfaces []runListSurface
		message  string
	}{
		{"type=nope", both, "type must be the name of an operation type, like inventory.sync."},
		{"bucket=done", both, "bucket must be one of queued, running, succeeded, partially_succeeded, failed."},
		{"range=1y", both, "range must be one of 24h, 7d, 30d."},
		{"since=yesterday", both, "since must be a time like 2026-01-31T14:00:00Z, or 2026-01-31T14:00 (UTC)."},
		{"since=2026-13-45T99:99:99Z", both, "since must be a time like 2026-01-31T14:00:00Z, or 2026-01-31T14:00 (UTC)."},
		{"until=10000-01-01T00:00:00Z", both, "until must be a time like 2026-01-31T14:00:00Z, or 2026-01-31T14:00 (UTC)."},
		{"until=0000-01-01T00:00", both, "until must be a time like 2026-01-31T14:00:00Z, or 2026-01-31T14:00 (UTC)."},
		{"cursor=!!", both, "The cursor (page link) is no longer valid; start from the first page."},
		{"cursor=abc%2F", both, "The cursor (page link) is no longer valid; start from the first page."},
		{"cursor=" + strings.Repeat("A", 300), both, "The cursor (page link) is no longer valid; start from the first page."},
		{"tenant=acme", []runListSurface{surfaceAPI}, "tenant must be a UUID."},
		{"tenant=%7B6ba7b810-9dad-11d1-80b4-00c04fd430c8%7D", []runListSurface{surfaceAPI}, "tenant must be a UUID."},
		{"limit=0", []runListSurface{surfaceAPI}, "limit must be a whole number from 1 to 200."},
		{"limit=-1", []runListSurface{surfaceAPI}, "limit must be a whole number from 1 to 200."},
		{"limit=abc", []runListSurface{surfaceAPI}, "limit must be a whole number from 1 to 200."},
		{"q=hello", both, `q: "hello" is neither a run id prefix (4 or more hex digits) nor key:value (search with id:PREFIX, initiator:NAME or key:value).`},
		{"q=" + strings.Repeat("a", 201), both, "q: the search is longer than 200 characters (search with id:PREFIX, initiator:NAME or key:value)."},
	}
	for _, tc := range bad {
		for _, surface := range tc.surfaces {
			_, _, err := parseRunFilterQuery(t, surface, tc.query, now)
			var fe *fiber.Error
			require.ErrorAs(t, err, &fe, "%s (surface %d)", tc.query, surface)
			require.Equal(t, fiber.StatusUnprocessableEntity, fe.Code, tc.query)
			require.Equal(t, tc.message, fe.Message, "%s (surface %d)", tc.query, surface)
		}
	}
	require.Equal(t, msgRunCursor, badRunCursor().(*fiber.Error).Message, "a cursor the reader refuses: the same message")
	require.Equal(t, fiber.StatusServiceUnavailable, runListError(projections.ErrSearchTimeout).(*fiber.Error).Code, "a search past its timeout")
}

// TestRunListQueryValues: the next-page link carries the set filters and the cursor.
func TestRunListQueryValues(t *testing.T) {
	t.Parallel()
	q := runListQuery{Type: "drift.generate", Bucket: "failed", Range: "7d", Until: "2026-02-01T09:30"}
	require.True(t, q.Filtered())
	require.False(t, runListQuery{}.Filtered())
	require.Equal(t, "bucket=failed&cursor=abc&range=7d&type=drift.generate&until=2026-02-01T09%3A30", q.values("abc").Encode())
	require.Equal(t, "", runListQuery{}.values("").Encode())
}
