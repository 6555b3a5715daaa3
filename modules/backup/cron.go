package backup

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed five-field cron expression (minute hour day-of-month month
// day-of-week) whose slots are wall-clock times in a time zone.
//
// Daylight saving: a slot is a wall-clock time, fired at most once. A slot inside the
// spring-forward gap (a local time that does not exist, e.g. 02:30 in Europe/Berlin on
// 2026-03-29) fires once at the first valid instant after it, the end of the gap
// (03:00 local); several slots in one gap (and a slot at the gap's end) are that one
// instant and so one run. A slot inside the repeated fall-back hour fires once, at its
// first occurrence.
type Cron struct {
	expr   string
	minute uint64 // bits 0..59
	hour   uint64 // bits 0..23
	dom    uint64 // bits 1..31
	month  uint64 // bits 1..12
	dow    uint64 // bits 0..6 (Sunday 0; 7 is folded into 0)
	// domAny and dowAny record a "*" field: when both day fields are restricted, a day
	// matches either (the classic cron rule); otherwise the restricted one decides.
	domAny, dowAny bool
}

// wallSlack bounds how far a zone's clock is set back at once (and a gap's length),
// with room to spare; see Next.
const wallSlack = 3 * time.Hour

// cronHorizon bounds how far Next looks for a slot (a schedule like `0 0 30 2 *` never fires).
const cronHorizon = 8 * 366

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	dayNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
)

// ParseCron parses a five-field cron expression: each field is "*", a number, a range
// "a-b", a step "*/n" or "a-b/n" or "a/n", or a comma list of those; months and
// weekdays also by their three-letter English names. It refuses anything else,
// including expressions that never fire.
func ParseCron(expr string) (Cron, error) {
	expr = strings.TrimSpace(expr)
	if len(expr) > 200 {
		return Cron{}, errors.New("longer than 200 characters")
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return Cron{}, fmt.Errorf("needs 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	c := Cron{expr: strings.Join(fields, " ")}
	var err error
	if c.minute, _, err = parseField(fields[0], 0, 59, nil); err != nil {
		return Cron{}, fmt.Errorf("minute: %w", err)
	}
	if c.hour, _, err = parseField(fields[1], 0, 23, nil); err != nil {
		return Cron{}, fmt.Errorf("hour: %w", err)
	}
	if c.dom, c.domAny, err = parseField(fields[2], 1, 31, nil); err != nil {
		return Cron{}, fmt.Errorf("day-of-month: %w", err)
	}
	if c.month, _, err = parseField(fields[3], 1, 12, monthNames); err != nil {
		return Cron{}, fmt.Errorf("month: %w", err)
	}
	if c.dow, c.dowAny, err = parseField(fields[4], 0, 7, dayNames); err != nil {
		return Cron{}, fmt.Errorf("day-of-week: %w", err)
	}
	if c.dow&(1<<7) != 0 {
		c.dow = c.dow&^(1<<7) | 1
	}
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC).IsZero() {
		return Cron{}, errors.New("never fires")
	}
	return c, nil
}

// String is the expression, fields separated by one space.
func (c Cron) String() string { return c.expr }

// parseField parses one field into a bit set over lo..hi; any reports a bare "*".
func parseField(f string, lo, hi int, names map[string]int) (uint64, bool, error) {
	if f == "*" {
		return rangeBits(lo, hi, 1), true, nil
	}
	var set uint64
	for part := range strings.SplitSeq(f, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > hi {
				return 0, false, fmt.Errorf("bad step %q", stepText)
			}
			step = n
		}
		var a, b int
		switch {
		case rng == "*":
			a, b = lo, hi
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var err error
			if a, err = fieldValue(x, lo, hi, names); err != nil {
				return 0, false, err
			}
			if b, err = fieldValue(y, lo, hi, names); err != nil {
				return 0, false, err
			}
			if a > b {
				return 0, false, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			v, err := fieldValue(rng, lo, hi, names)
			if err != nil {
				return 0, false, err
			}
			a, b = v, v
			if hasStep { // "a/n": from a to the end
				b = hi
			}
		}
		set |= rangeBits(a, b, step)
	}
	return set, false, nil
}

func fieldValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d-%d", v, lo, hi)
	}
	return v, nil
}

func rangeBits(a, b, step int) uint64 {
	var set uint64
	for v := a; v <= b; v += step {
		set |= 1 << uint(v)
	}
	return set
}

// dayMatches reports whether the date's day fields match.
func (c Cron) dayMatches(d time.Time) bool {
	if c.month&(1<<uint(d.Month())) == 0 {
		return false
	}
	domOK := c.dom&(1<<uint(d.Day())) != 0
	dowOK := c.dow&(1<<uint(d.Weekday())) != 0
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dowOK
	case c.dowAny:
		return domOK
	default:
		return domOK || dowOK
	}
}

// Next returns the first slot instant strictly after after, in loc's wall clock (see
// Cron for daylight saving); zero when none comes within eight years.
func (c Cron) Next(after time.Time, loc *time.Location) time.Time {
	local := after.In(loc)
	// Start a day early: a slot of the previous local date can resolve after it (never
	// by more than a gap), and resolved slots never decrease, so the first one past
	// after is the answer.
	day := time.Date(local.Year(), local.Month(), local.Day()-1, 0, 0, 0, 0, time.UTC)
	// A wall time more than wallSlack before after's own cannot resolve after it (a
	// resolved slot reads its wall time, or the end of a gap, and clocks are set back by
	// less than that): skipping those keeps Next cheap for dense expressions.
	lower := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC).Add(-wallSlack)
	for range cronHorizon {
		if c.dayMatches(day) && !day.Add(24*time.Hour).Before(lower) {
			for h := c.hour; h != 0; h &= h - 1 {
				hour := day.Add(time.Duration(bits.TrailingZeros64(h)) * time.Hour)
				if hour.Add(time.Hour).Before(lower) {
					continue
				}
				for m := c.minute; m != 0; m &= m - 1 {
					wall := hour.Add(time.Duration(bits.TrailingZeros64(m)) * time.Minute)
					if wall.Before(lower) {
						continue
					}
					if t := resolveWall(wall, loc); t.After(after) {
						return t
					}
				}
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}
}

// resolveWall maps a wall-clock time (given as the same fields in UTC) to its instant in
// loc: its first occurrence when the clock repeats it, the end of the gap when the clock
// skips it.
func resolveWall(wall time.Time, loc *time.Location) time.Time {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
	start, end := t.ZoneBounds()
	var best time.Time
	for _, probe := range []time.Time{t, start.Add(-time.Second), end} {
		if probe.Year() < 2 {
			continue // no such zone boundary
		}
		_, off := probe.In(loc).Zone()
		cand := wall.Add(-time.Duration(off) * time.Second)
		if sameWall(cand.In(loc), wall) && (best.IsZero() || cand.Before(best)) {
			best = cand
		}
	}
	if !best.IsZero() {
		return best.In(loc)
	}
	// A gap: t landed on one side of the transition that skipped wall.
	if sameWallOrLater(t, wall) {
		return start.In(loc)
	}
	return end.In(loc)
}

func sameWall(t, wall time.Time) bool {
	y, mo, d := t.Date()
	wy, wmo, wd := wall.Date()
	return y == wy && mo == wmo && d == wd && t.Hour() == wall.Hour() && t.Minute() == wall.Minute()
}

// sameWallOrLater reports whether t's wall clock reads wall or later.
func sameWallOrLater(t, wall time.Time) bool {
	tw := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	return !tw.Before(wall)
}
