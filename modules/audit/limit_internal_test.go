package audit

import (
	"strconv"
	"testing"
	"time"
)

// TestLimiter: a key gets limit events a window, a new window starts afresh, keys are
// apart, and a full table suppresses new keys until expired windows are swept.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l := NewLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	allowed := func(key string, n int) int {
		got := 0
		for range n {
			if l.Allow(key) {
				got++
			}
		}
		return got
	}
	if got := allowed("a", 10); got != 3 {
		t.Fatalf("a: %d allowed, want 3", got)
	}
	if got := allowed("b", 1); got != 1 {
		t.Fatalf("b: %d allowed, want 1", got)
	}
	now = now.Add(59 * time.Second)
	if l.Allow("a") {
		t.Fatal("a allowed before its window passed")
	}
	now = now.Add(time.Second)
	if got := allowed("a", 10); got != 3 {
		t.Fatalf("a in a new window: %d allowed, want 3", got)
	}

	l.keys = map[string]*limitWindow{}
	for i := range maxLimiterKeys {
		l.keys["fill"+strconv.Itoa(i)] = &limitWindow{start: now}
	}
	if l.Allow("new") {
		t.Fatal("a new key allowed while the table is full")
	}
	now = now.Add(time.Minute)
	if !l.Allow("new") {
		t.Fatal("a new key refused after expired windows were swept")
	}
	if len(l.keys) != 1 {
		t.Fatalf("%d keys after the sweep, want 1", len(l.keys))
	}
}
