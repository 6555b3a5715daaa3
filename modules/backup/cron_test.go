package backup_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/backup"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// TestParseCron: what the five fields accept and what they refuse (with the field named).
func TestParseCron(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"* * * * *", "30 2 * * *", "0 */6 * * *", "0,30 8-18 * * mon-fri", "15 3 1 jan,jul *",
		"0 0 * * 7", "5-55/10 * * * *", "0 4 1-7 * sun", "  0   1 * * *  ", "0 12/3 * * *"} {
		_, err := backup.ParseCron(ok)
		require.NoError(t, err, ok)
	}
	for expr, want := range map[string]string{
		"":               "needs 5 fields",
		"* * * *":        "needs 5 fields",
		"* * * * * *":    "needs 5 fields",
		"60 * * * *":     "minute: 60 is outside 0-59",
		"* 24 * * *":     "hour: 24 is outside 0-23",
		"* * 0 * *":      "day-of-month: 0 is outside 1-31",
		"* * * 13 *":     "month: 13 is outside 1-12",
		"* * * * 8":      "day-of-week: 8 is outside 0-7",
		"*/0 * * * *":    "minute: bad step",
		"5-1 * * * *":    "minute: range \"5-1\" runs backwards",
		"x * * * *":      "minute: \"x\" is not a number",
		"@daily * * * *": "minute:",
		"0 0 30 2 *":     "never fires",
		"0 0 31 4 *":     "never fires",
		"+5 * * * *":     "not a number",
		"1,,2 * * * *":   "minute:",
	} {
		_, err := backup.ParseCron(expr)
		require.ErrorContains(t, err, want, expr)
	}
}

// TestCronNext: slots in order in UTC and in a zone, both day fields' OR rule, steps.
func TestCronNext(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	ny := mustZone(t, "America/New_York")
	for _, tc := range []struct {
		expr  string
		loc   *time.Location
		after time.Time
		want  []string
	}{
		{"30 2 * * *", utc, time.Date(2026, 1, 1, 2, 30, 0, 0, utc), []string{"2026-01-02T02:30:00Z", "2026-01-03T02:30:00Z"}},
		{"*/20 * * * *", utc, time.Date(2026, 1, 1, 23, 45, 0, 0, utc), []string{"2026-01-02T00:00:00Z", "2026-01-02T00:20:00Z", "2026-01-02T00:40:00Z"}},
		{"0 9 * * mon-fri", ny, time.Date(2026, 5, 1, 14, 0, 0, 0, utc), []string{"2026-05-04T09:00:00-04:00", "2026-05-05T09:00:00-04:00"}},
		// Both day fields restricted: the 13th or any Friday.
		{"0 0 13 * fri", utc, time.Date(2026, 2, 10, 0, 0, 0, 0, utc), []string{"2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z"}},
		{"0 0 29 2 *", utc, time.Date(2026, 1, 1, 0, 0, 0, 0, utc), []string{"2028-02-29T00:00:00Z"}},
	} {
		c, err := backup.ParseCron(tc.expr)
		require.NoError(t, err)
		at := tc.after
		var got []string
		for range tc.want {
			at = c.Next(at, tc.loc)
			got = append(got, at.Format(time.RFC3339))
		}
		require.Equal(t, tc.want, got, tc.expr)
	}
}

// TestCronDaylightSaving: in Europe/Berlin `30 2 * * *` fires exactly once on each
// transition day: at 03:00 CEST (the gap's end) on 2026-03-29, when 02:30 does not
// exist, and at the first 02:30 (CEST) on 2026-10-25, when 02:30 happens twice; an
// hourly slot in the repeated hour fires once too, and slots inside the gap collapse
// into the one instant after it.
func TestCronDaylightSaving(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	series := func(expr string, from time.Time, n int) []string {
		c, err := backup.ParseCron(expr)
		require.NoError(t, err)
		var out []string
		for range n {
			from = c.Next(from, berlin)
			out = append(out, from.UTC().Format(time.RFC3339))
		}
		return out
	}
	// Spring forward: 02:00 CET → 03:00 CEST (01:00 UTC).
	require.Equal(t, []string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		series("30 2 * * *", time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), 3), "the 29th's slot fires once, at 03:00 CEST")
	// Fall back: 03:00 CEST → 02:00 CET (01:00 UTC); 02:30 local is 00:30 and 01:30 UTC.
	require.Equal(t, []string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		series("30 2 * * *", time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), 3), "the 25th's slot fires once, at the first 02:30")
	require.Equal(t, []string{"2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z", "2026-10-25T03:30:00Z"},
		series("30 * * * *", time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC), 4), "01:30, 02:30 (once), 03:30, 04:30 local")
	require.Equal(t, []string{"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"},
		series("*/15 * * * *", time.Date(2026, 3, 29, 0, 40, 0, 0, time.UTC), 3), "01:45 CET, then the gap's slots and 03:00 as one instant, then 03:15")
}

// FuzzParseCron: any input parses or is refused without panicking, and a parsed
// expression's Next always moves forward and lands on a wall time the expression names.
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"30 2 * * *", "*/5 * * * *", "0 0 13 * fri", "1-5/2 3,4 * jan-mar *", "0 0 30 2 *", "a b c d e"} {
		f.Add(s, int64(1774746000))
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string, unix int64) {
		c, err := backup.ParseCron(expr)
		if err != nil {
			return
		}
		after := time.Unix(unix%4_000_000_000, 0)
		next := c.Next(after, berlin)
		if next.IsZero() {
			return // beyond the horizon from a far date: allowed
		}
		if !next.After(after) {
			t.Fatalf("%q: Next(%v) = %v does not move forward", expr, after, next)
		}
		if next.Sub(after) > 9*366*24*time.Hour {
			t.Fatalf("%q: Next beyond the horizon", expr)
		}
		if strings.TrimSpace(c.String()) != c.String() {
			t.Fatalf("String %q not trimmed", c.String())
		}
	})
}

// FuzzParseCronFields builds expressions from the input: in-range fields (a minute, an
// hour, a day of month, a month, a weekday, a step) are accepted, and Next in UTC lands
// on that minute and hour within the year when only the time is set; each field taken
// out of its range (or given a zero step, a reversed range, a sixth field) is refused.
func FuzzParseCronFields(f *testing.F) {
	f.Add(uint8(30), uint8(2), uint8(13), uint8(1), uint8(5), uint8(15), int64(1774746000))
	f.Add(uint8(255), uint8(255), uint8(255), uint8(255), uint8(255), uint8(0), int64(-1))
	f.Fuzz(func(t *testing.T, m, h, dom, mon, dow, step uint8, unix int64) {
		mi, hi, di, mo, wd, st := int(m)%60, int(h)%24, int(dom)%28+1, int(mon)%12+1, int(dow)%7, int(step)%59+1
		for _, expr := range []string{
			fmt.Sprintf("%d %d * * *", mi, hi), fmt.Sprintf("%d %d %d %d *", mi, hi, di, mo), fmt.Sprintf("%d %d * * %d", mi, hi, wd),
			fmt.Sprintf("*/%d * * * *", st), fmt.Sprintf("%d-%d/%d %d,%d * * *", mi/2, mi/2+30, st, hi, (hi+1)%24),
		} {
			if _, err := backup.ParseCron(expr); err != nil {
				t.Fatalf("ParseCron(%q): %v", expr, err)
			}
		}
		c, _ := backup.ParseCron(fmt.Sprintf("%d %d * * *", mi, hi))
		after := time.Unix(unix%4_000_000_000, 0).UTC()
		next := c.Next(after, time.UTC)
		if !next.After(after) || next.Sub(after) > 24*time.Hour || next.Minute() != mi || next.Hour() != hi {
			t.Fatalf("%d %d * * *: Next(%v) = %v", mi, hi, after, next)
		}
		for _, bad := range []string{
			fmt.Sprintf("%d %d * * *", 60+int(m)%40, hi), fmt.Sprintf("%d %d * * *", mi, 24+int(h)%10), fmt.Sprintf("%d %d %d * *", mi, hi, 32+int(dom)%10),
			fmt.Sprintf("%d %d * %d *", mi, hi, 13+int(mon)%10), fmt.Sprintf("%d %d * * %d", mi, hi, 8+int(dow)%10), "*/0 * * * *",
			fmt.Sprintf("%d-%d * * * *", mi/2+30, mi/2), fmt.Sprintf("%d %d * * * *", mi, hi), fmt.Sprintf("%d %d * *", mi, hi),
		} {
			if _, err := backup.ParseCron(bad); err == nil {
				t.Fatalf("ParseCron(%q) accepted", bad)
			}
		}
	})
}
