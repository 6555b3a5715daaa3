package main

import (
	"fmt"
	"strings"
	"time"
)

// The soak's invariant checks that need no database: each takes what was observed and
// says what breaks the invariant, so a unit test can hand them a planted violation.

// soakRunEvent is one run event of the log, in global order.
type soakRunEvent struct {
	Stream   string
	Type     string
	Identity string // RunQueued only
	Tx       string // the writing transaction
}

// soakTerminal are the event types that end a run (and free its identity).
var soakTerminal = map[string]bool{"RunCompleted": true, "RunFailed": true, "RunBlocked": true,
	"RunCancelled": true, "RunStaleTimedOut": true}

// checkIdentities walks run events in global order and returns the number of runs and
// identities seen and one line per moment two runs were active with one identity. A
// run queued and ended in one transaction (blocked at the gate, not dispatchable) was
// never active: it holds no identity, and it is no overlap beside an active run.
func checkIdentities(evs []soakRunEvent) (runs, identities int, overlaps []string) {
	queuedIn := map[string]string{} // stream → the transaction of its RunQueued
	bornEnded := map[string]bool{}
	for _, e := range evs {
		switch {
		case e.Type == "RunQueued":
			queuedIn[e.Stream] = e.Tx
		case soakTerminal[e.Type] && e.Tx != "" && queuedIn[e.Stream] == e.Tx:
			bornEnded[e.Stream] = true
		}
	}
	active := map[string]string{} // identity → the active run's stream
	identityOf := map[string]string{}
	seen := map[string]bool{}
	for _, e := range evs {
		switch {
		case e.Type == "RunQueued":
			runs++
			if !seen[e.Identity] {
				seen[e.Identity] = true
				identities++
			}
			if bornEnded[e.Stream] {
				continue
			}
			if other, ok := active[e.Identity]; ok {
				overlaps = append(overlaps, fmt.Sprintf("%s queued while %s was active with identity %s", e.Stream, other, e.Identity))
			}
			active[e.Identity] = e.Stream
			identityOf[e.Stream] = e.Identity
		case soakTerminal[e.Type]:
			if id, ok := identityOf[e.Stream]; ok && active[id] == e.Stream {
				delete(active, id)
			}
		}
	}
	return runs, identities, overlaps
}

// checkWorkedOnce returns the streams with more than one RunStarted.
func checkWorkedOnce(evs []soakRunEvent) (started int, twice []string) {
	n := map[string]int{}
	for _, e := range evs {
		if e.Type == "RunStarted" {
			n[e.Stream]++
			if n[e.Stream] == 1 {
				started++
			}
			if n[e.Stream] == 2 {
				twice = append(twice, e.Stream)
			}
		}
	}
	return started, twice
}

// soakFailure is an API request answered 5xx or not answered at all.
type soakFailure struct {
	At   time.Time
	What string // "POST /api/v1/…: 503" or "GET …: connection refused"
}

// soakFault is one injected fault: what, when, until when it can explain failed
// requests (explains: a killed serve, terminated backends), and what it did.
type soakFault struct {
	Kind       string
	Start, End time.Time
	Explains   bool
	Detail     string
}

// soakGrace is how long after a fault ends a failed request is still put down to it
// (clients see a reset connection, a pool reconnects).
const soakGrace = 5 * time.Second

// unexplained returns the failures no fault explains: none overlapping their time
// (from a second before its start to soakGrace after its end).
func unexplained(fails []soakFailure, faults []soakFault) []soakFailure {
	var out []soakFailure
	for _, f := range fails {
		ok := false
		for _, ft := range faults {
			if ft.Explains && !f.At.Before(ft.Start.Add(-time.Second)) && !f.At.After(ft.End.Add(soakGrace)) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, f)
		}
	}
	return out
}

// secretCount is how many times any of secrets occurs in text.
func secretCount(text string, secrets []string) int {
	n := 0
	for _, s := range secrets {
		if s != "" {
			n += strings.Count(text, s)
		}
	}
	return n
}

// soakSample is a server's goroutines and heap in use, from /metrics.
type soakSample struct {
	Goroutines float64
	HeapInuse  float64
}

// parseSoakSample reads go_goroutines and go_memstats_heap_inuse_bytes from a
// Prometheus text page.
func parseSoakSample(page string) (soakSample, bool) {
	var s soakSample
	found := 0
	for line := range strings.SplitSeq(page, "\n") {
		var v float64
		if _, err := fmt.Sscanf(line, "go_goroutines %g", &v); err == nil && strings.HasPrefix(line, "go_goroutines ") {
			s.Goroutines = v
			found++
		}
		if _, err := fmt.Sscanf(line, "go_memstats_heap_inuse_bytes %g", &v); err == nil && strings.HasPrefix(line, "go_memstats_heap_inuse_bytes ") {
			s.HeapInuse = v
			found++
		}
	}
	return s, found == 2
}

// backToBaseline reports whether end is within the tolerance of base: goroutines at
// most a quarter more plus 40 (a process that took over projections from a killed
// leader runs a few more for good), heap in use at most twice plus 64 MiB (the heap is
// not collected on demand); a leak per request (thousands of them) still shows.
func backToBaseline(base, end soakSample) bool {
	return end.Goroutines <= base.Goroutines*1.25+40 && end.HeapInuse <= base.HeapInuse*2+64<<20
}
