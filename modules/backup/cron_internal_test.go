package backup

import (
	"testing"
	"time"
)

// matchesWall reports whether the wall time (fields read in UTC) is a slot of c.
func (c Cron) matchesWall(w time.Time) bool {
	return c.dayMatches(w) && c.hour&(1<<uint(w.Hour())) != 0 && c.minute&(1<<uint(w.Minute())) != 0
}

// FuzzCronNextSkipsNoSlot checks Next against a minute-by-minute walk: no instant
// strictly between after and Next is a slot that fires at its own wall time (Next's
// shortcuts over dense expressions and zone changes must not skip one), and when Next
// answers nothing within three days, no slot fires in them (a Next that never answers
// fails).
func FuzzCronNextSkipsNoSlot(f *testing.F) {
	for _, s := range []string{"30 2 * * *", "*/7 * * * *", "0 0 13 * fri", "15 1-3 * * sun", "0 */5 29 2 *"} {
		f.Add(s, int64(1774744200), "Europe/Berlin")
		f.Add(s, int64(1792886400), "America/New_York")
	}
	f.Fuzz(func(t *testing.T, expr string, unix int64, zone string) {
		c, err := ParseCron(expr)
		if err != nil {
			return
		}
		loc, err := LoadZone(zone)
		if err != nil {
			return
		}
		after := time.Unix(unix%4_000_000_000, 0).Truncate(time.Minute)
		next := c.Next(after, loc)
		limit := next // the walk is bounded to three days; a Next beyond (or none) must skip no slot before them either
		if next.IsZero() || next.Sub(after) > 3*24*time.Hour {
			limit = after.Add(3 * 24 * time.Hour)
		}
		for m := after.Add(time.Minute); m.Before(limit); m = m.Add(time.Minute) {
			l := m.In(loc)
			w := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
			if c.matchesWall(w) && resolveWall(w, loc).Equal(m) {
				t.Fatalf("%q in %s: Next(%v) = %v skips the slot at %v", expr, zone, after, next, m)
			}
		}
	})
}
