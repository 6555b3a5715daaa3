package web

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRelTimeWords: relative times read as people write them, plurals included.
func TestRelTimeWords(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "just now"},
		{59 * time.Second, "just now"},
		{-30 * time.Second, "just now"},
		{-5 * time.Minute, "in 5 min"},
		{time.Minute, "1 min ago"},
		{59 * time.Minute, "59 min ago"},
		{time.Hour, "1 h ago"},
		{23*time.Hour + 59*time.Minute, "23 h ago"},
		{24 * time.Hour, "1 day ago"},
		{47 * time.Hour, "1 day ago"},
		{48 * time.Hour, "2 days ago"},
		{-3 * 24 * time.Hour, "in 3 days"},
		{59 * 24 * time.Hour, "59 days ago"},
		{60 * 24 * time.Hour, "2 Oct 2026"},
	} {
		require.Equal(t, c.want, relTimeAt(now.Add(-c.ago), now), "%s ago", c.ago)
	}
	require.Equal(t, "—", relTimeAt(time.Time{}, now))
}

// TestHumanDuration: durations in their two largest units.
func TestHumanDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 ms"},
		{0, "0 ms"},
		{350 * time.Millisecond, "350 ms"},
		{time.Second, "1.0 s"},
		{4260 * time.Millisecond, "4.2 s"},
		{12 * time.Second, "12 s"},
		{time.Minute, "1 min"},
		{2*time.Minute + 5*time.Second, "2 min 5 s"},
		{time.Hour + 3*time.Minute + 9*time.Second, "1 h 3 min"},
		{2*24*time.Hour + 4*time.Hour + time.Minute, "2 d 4 h"},
	} {
		require.Equal(t, c.want, humanDuration(c.d), "%s", c.d)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(125 * time.Second)
	require.Equal(t, "2 min 5 s", runDuration(&start, &end))
	require.Equal(t, "—", runDuration(nil, &end))
}

// TestBucketLabelAndPlural: the overview's headings and counted nouns.
func TestBucketLabelAndPlural(t *testing.T) {
	require.Equal(t, "Partially succeeded", bucketLabel("partially_succeeded"))
	require.Equal(t, "1 day", plural(1, "day", "days"))
	require.Equal(t, "0 days", plural(0, "day", "days"))
	require.Equal(t, "2 days", plural(2, "day", "days"))
}
