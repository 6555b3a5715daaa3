package web

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// filterApp is a bare app whose contexts parseRunFilterRaw borrows (no server, no I/O).
var filterApp = fiber.New()

// parseRunFilterRaw runs parseRunFilter over the raw query string qs on surface.
func parseRunFilterRaw(surface runListSurface, qs string, now time.Time) (projections.RunFilter, runListQuery, error) {
	var rc fasthttp.RequestCtx
	rc.Request.SetRequestURI("/?" + qs)
	c := filterApp.AcquireCtx(&rc)
	defer filterApp.ReleaseCtx(c)
	return parseRunFilter(c, surface, now)
}

// FuzzParseRunFilter fuzzes the run list filter parser of the hub and the API (and the
// search grammar inside it) with raw query strings. Any query is accepted or refused
// with a 422, never a panic; the surfaces agree (what the API accepts the hub accepts as
// the same filter, a value the hub refuses the API refuses with the same message); an
// accepted filter's echo (the next-page link's values) parses back to the same filter.
// Both sides: a query built from the input with a real type, bucket, range, since,
// until and a key:"value" search is accepted as exactly that filter, and each parameter
// spoiled in turn is refused with its message.
func FuzzParseRunFilter(f *testing.F) {
	for _, s := range []string{"", "type=inventory.sync&bucket=Partially_Succeeded", "since=2026-01-31T14:00:00Z&until=2026-02-01T00:00:00%2B01:00",
		"range=7d&since=2026-01-31T14:00", "q=initiator:%22Ada+Lovelace%22+deadbeef", "tenant=6ba7b810-9dad-11d1-80b4-00c04fd430c8&limit=999999999999999999999",
		"limit=0", "cursor=abc!", "type=nope", "bucket=x", "range=1y", "since=10000-01-01T00:00:00Z", "q=%00", "q=a:1&q=b:2", "%zz=1", "since=0000-01-01T00:00"} {
		f.Add(s, uint8(1), int64(1774746000), "value")
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	types, buckets, ranges := operations.Types(), operations.Buckets(), []string{"24h", "7d", "30d"}
	f.Fuzz(func(t *testing.T, qs string, pick uint8, unix int64, s string) {
		api, aq, aerr := parseRunFilterRaw(surfaceAPI, qs, now)
		hub, hq, herr := parseRunFilterRaw(surfaceHub, qs, now)
		for _, err := range []error{aerr, herr} {
			var fe *fiber.Error
			if err != nil && (!errors.As(err, &fe) || fe.Code != fiber.StatusUnprocessableEntity || len(fe.Message) > 300) {
				t.Fatalf("parseRunFilter(%q): %v, want a 422", qs, err)
			}
		}
		if aerr == nil {
			if herr != nil {
				t.Fatalf("parseRunFilter(%q): the API accepts it, the hub refuses it: %v", qs, herr)
			}
			want := api
			want.Tenant, want.Limit = uuid.Nil, runListLimit
			if !reflect.DeepEqual(hub, want) {
				t.Fatalf("parseRunFilter(%q): hub %+v, API %+v", qs, hub, api)
			}
			echo := aq.values(api.Cursor)
			echo.Set("limit", strconv.Itoa(api.Limit))
			again, _, err := parseRunFilterRaw(surfaceAPI, echo.Encode(), now)
			if err != nil || !reflect.DeepEqual(again, api) {
				t.Fatalf("parseRunFilter(%q) = %+v; its echo %q reads %+v, %v", qs, api, echo.Encode(), again, err)
			}
			if api.Limit < 1 || api.Limit > maxListLimit {
				t.Fatalf("parseRunFilter(%q): limit %d", qs, api.Limit)
			}
		}
		if herr != nil && aerr != nil && !strings.HasPrefix(aerr.Error(), "tenant ") && !strings.HasPrefix(aerr.Error(), "limit ") && aerr.Error() != herr.Error() {
			t.Fatalf("parseRunFilter(%q): hub says %q, API says %q", qs, herr, aerr)
		}
		_ = hq

		// Accepted: a query of real values built from the input.
		typ := types[int(pick)%len(types)].Type
		bucket := buckets[int(pick)%len(buckets)]
		rng := ranges[int(pick)%len(ranges)]
		since := time.Unix(max(unix%250_000_000_000, -(unix%250_000_000_000)), 0).UTC()
		until := since.Add(time.Hour)
		value := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || r == '"' || r == '\uFFFD' {
				return -1
			}
			return r
		}, strings.ToValidUTF8(s, ""))
		value = strings.TrimSpace(strings.ToValidUTF8(value[:min(len(value), 80)], ""))
		if value == "" {
			value = "v"
		}
		tenant := uuid.NewSHA1(uuid.Nil, []byte(s))
		good := url.Values{"type": {typ}, "bucket": {strings.ToUpper(string(bucket))}, "range": {rng},
			"since": {since.Format(time.RFC3339)}, "until": {until.Format(datetimeLocal)}, "q": {`k:"` + value + `"`},
			"tenant": {tenant.String()}, "limit": {strconv.Itoa(int(pick)%maxListLimit + 1)}, "cursor": {"abc_-9"}}
		want := projections.RunFilter{Tenant: tenant, Type: typ, Bucket: bucket, Since: since, Until: until.Truncate(time.Minute),
			Search: projections.RunSearch{Context: []projections.ContextTerm{{Key: "k", Value: value}}}, Cursor: "abc_-9", Limit: int(pick)%maxListLimit + 1}
		got, _, err := parseRunFilterRaw(surfaceAPI, good.Encode(), now)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("parseRunFilter(%q) = %+v, %v; want %+v", good.Encode(), got, err, want)
		}
		// Refused: each parameter spoiled in turn, with its message.
		for key, bad := range map[string][2]string{
			"type": {typ + "x", msgRunType}, "bucket": {string(bucket) + "x", msgRunBucket}, "range": {rng + "x", msgRunRange},
			"since": {since.Format(time.RFC3339) + "x", "since" + msgRunTime}, "until": {"x" + until.Format(datetimeLocal), "until" + msgRunTime},
			"q": {`k:"` + value, "q: "}, "tenant": {tenant.String() + "0", "tenant must be a UUID."},
			"limit": {"0", "limit must be a whole number"}, "cursor": {"abc" + "!", msgRunCursor},
		} {
			spoiled := url.Values{}
			for k, v := range good {
				spoiled[k] = v
			}
			spoiled.Set(key, bad[0])
			_, _, err := parseRunFilterRaw(surfaceAPI, spoiled.Encode(), now)
			var fe *fiber.Error
			if !errors.As(err, &fe) || fe.Code != fiber.StatusUnprocessableEntity || !strings.HasPrefix(fe.Message, bad[1]) {
				t.Fatalf("parseRunFilter(%q): %v, want a 422 %q", spoiled.Encode(), err, bad[1])
			}
		}
	})
}
