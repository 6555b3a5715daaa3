package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
)

// check drains the runs, stops the processes and checks every invariant, printing one
// line each; it returns how many are violated.
func (s *soak) check(ctx context.Context) (int, error) {
	violations := 0
	report := func(name string, ok bool, format string, args ...any) {
		verdict := "ok"
		if !ok {
			verdict = "VIOLATED"
			violations++
		}
		fmt.Fprintf(s.out, "invariant %s: %s (count %s)\n", name, verdict, fmt.Sprintf(format, args...))
	}
	if err := s.simControl(ctx, http.MethodDelete, "", nil); err != nil {
		return 0, err
	}

	// 1. Every accepted start reached a terminal state within the sweeper's bound.
	s.stats.mu.Lock()
	accepted := slices.Clone(s.stats.accepted)
	s.stats.mu.Unlock()
	drainStart := time.Now()
	var open int
	for {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ops_runs WHERE status <> 'completed'`).Scan(&open); err != nil {
			return 0, err
		}
		if open == 0 || time.Since(drainStart) > soakRunBound || ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	var done, late int
	var slowest float64
	rows, err := s.pool.Query(ctx, `SELECT status = 'completed', COALESCE(EXTRACT(EPOCH FROM completed_at - queued_at), 0)::float8
		FROM ops_runs WHERE run_id = ANY($1::uuid[])`, accepted)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var completed bool
		var secs float64
		if err := rows.Scan(&completed, &secs); err != nil {
			rows.Close()
			return 0, err
		}
		if completed {
			done++
			slowest = max(slowest, secs)
			if secs > soakRunBound.Seconds() {
				late++
			}
		}
	}
	rows.Close()
	report("terminal", done == len(accepted) && late == 0 && open == 0,
		"%d of %d accepted runs terminal, %d past the %s bound, slowest %.1fs; %d runs still active after the drain",
		done, len(accepted), late, soakRunBound, slowest, open)

	// 2. Memory and goroutines back to baseline, once the load has stopped.
	soakHTTP.CloseIdleConnections()
	var baseLines []string
	baseOK := true
	for _, c := range s.serves {
		s.faultsMu.Lock()
		base := s.baselines[c.name]
		s.faultsMu.Unlock()
		var end soakSample
		for deadline := time.Now().Add(20 * time.Second); ; {
			end, err = s.sample(ctx, c)
			if err != nil {
				return 0, err
			}
			if backToBaseline(base, end) || time.Now().After(deadline) {
				break
			}
			sleepCtx(ctx, 500*time.Millisecond)
		}
		ok := backToBaseline(base, end)
		baseOK = baseOK && ok
		baseLines = append(baseLines, fmt.Sprintf("%s goroutines %.0f→%.0f heap %.1f→%.1f MiB", c.name,
			base.Goroutines, end.Goroutines, base.HeapInuse/(1<<20), end.HeapInuse/(1<<20)))
	}
	report("baseline", baseOK, "%s", strings.Join(baseLines, "; "))

	// The processes stop; what they wrote is checked from the database and their logs.
	stopped := 0
	for _, c := range append(append([]*soakChild{}, s.serves...), s.workers...) {
		if c.stop(15 * time.Second) {
			stopped++
		}
	}
	fmt.Fprintf(s.out, "soak: %d of %d processes stopped cleanly on SIGTERM\n", stopped, len(s.serves)+len(s.workers))
	if err := s.sealAll(ctx); err != nil {
		return 0, err
	}

	// 3. Never two active runs with one identity; every run worked at most once.
	evs, workers, err := s.runEvents(ctx)
	if err != nil {
		return 0, err
	}
	runs, identities, overlaps := checkIdentities(evs)
	report("identity", len(overlaps) == 0, "%d runs on %d identities walked in log order, %d overlaps%s",
		runs, identities, len(overlaps), firstOf(overlaps))
	started, twice := checkWorkedOnce(evs)
	report("worked-once", len(twice) == 0, "%d runs started, %d started twice; by worker: %s%s",
		started, len(twice), workers, firstOf(twice))

	// 4. One leader per projection at a time, checkpoints never going back, and a
	// killed leader handed over within soakHandoverMax.
	s.leaderChecks.mu.Lock()
	leaders := make([]string, 0, len(s.leaderChecks.leaders))
	for a := range s.leaderChecks.leaders {
		leaders = append(leaders, strings.TrimPrefix(a, "soak-"))
	}
	sort.Strings(leaders)
	report("one-leader", len(s.leaderChecks.doubles) == 0 && len(s.leaderChecks.regressions) == 0,
		"%d lock samples, %d with two holders, %d checkpoint regressions; leaders seen: %s%s",
		s.leaderChecks.samples, len(s.leaderChecks.doubles), len(s.leaderChecks.regressions), strings.Join(leaders, ", "),
		firstOf(append(s.leaderChecks.doubles, s.leaderChecks.regressions...)))
	s.leaderChecks.mu.Unlock()
	s.faultsMu.Lock()
	handovers := slices.Clone(s.handovers)
	s.faultsMu.Unlock()
	var hs []string
	handOK := len(handovers) > 0
	for _, h := range handovers {
		hs = append(hs, fmt.Sprintf("%.2fs", h.Seconds()))
		handOK = handOK && h <= soakHandoverMax
	}
	report("handover", handOK, "%d leader kills, handed over in %s (bound %s)", len(handovers), strings.Join(hs, ", "), soakHandoverMax)

	// 5. Every read model equals a from-zero rebuild.
	equal, tables, diff, err := s.compareRebuild(ctx)
	if err != nil {
		return 0, err
	}
	report("read-models", diff == "", "%d of %d tables of %d projections equal a from-zero rebuild by md5%s",
		equal, tables, len(monolith.Projections()), diff)

	// 6. audit verify.
	res, err := s.app.Store.Verify(ctx, nil)
	if err != nil {
		return 0, err
	}
	report("audit-verify", res.OK, "%d events verified, head %d%s", res.Checked, res.Head, map[bool]string{false: fmt.Sprintf("; broken at %d: %s", res.FirstBad, res.Reason), true: ""}[res.OK])

	// 7. No secret in an event, a read model, a log line or an answer.
	secretLine, hits, err := s.secretScan(ctx)
	if err != nil {
		return 0, err
	}
	report("secrets", hits == 0, "%s", secretLine)

	// 8. No 5xx (or unanswered request) but those the faults explain; every refusal as
	// the contract says.
	s.stats.mu.Lock()
	fails := slices.Clone(s.stats.failures)
	wrong := slices.Clone(s.stats.wrong)
	answers, unanswered := s.stats.answers, s.stats.unanswered
	s.stats.mu.Unlock()
	s.faultsMu.Lock()
	faults := slices.Clone(s.faults)
	s.faultsMu.Unlock()
	bad := unexplained(fails, faults)
	var badLines []string
	for _, f := range bad {
		badLines = append(badLines, f.At.UTC().Format("15:04:05.000")+" "+f.What)
	}
	report("no-5xx", len(bad) == 0, "%d requests, %d failed (%d answered 5xx, %d unanswered while a server was down or its backend terminated), %d explained by faults, %d unexplained%s",
		answers, len(fails), len(fails)-unanswered, unanswered, len(fails)-len(bad), len(bad), firstOf(badLines))
	if len(bad) > 0 {
		// What the servers logged as errors says what the failures were (the logs
		// hold no secret: checked above).
		for _, c := range s.serves {
			n := 0
			for line := range strings.SplitSeq(c.out.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) && n < 3 {
					fmt.Fprintf(s.out, "soak: %s logged: %.300s\n", c.name, line)
					n++
				}
			}
		}
	}
	report("refusals", len(wrong) == 0, "%d answers off the contract%s", len(wrong), firstOf(wrong))

	for _, line := range s.faultSummary() {
		fmt.Fprintln(s.out, line)
	}
	restarts := 0
	for _, c := range append(append([]*soakChild{}, s.serves...), s.workers...) {
		restarts += c.restarts
	}
	fmt.Fprintf(s.out, "summary: %d invariants violated; %d faults injected, %d process restarts; %s\n",
		violations, len(faults), restarts, s.stats.summary())
	return violations, nil
}

// firstOf is "; first: X" for a non-empty list.
func firstOf(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return "; first: " + items[0]
}

// runEvents reads every run event in global order, and counts RunStarted by worker.
func (s *soak) runEvents(ctx context.Context) ([]soakRunEvent, string, error) {
	rows, err := s.pool.Query(ctx, `SELECT stream_id, event_type, COALESCE(data->>'identityHash', ''), COALESCE(data->>'workerId', ''),
		transaction_id::text FROM es_events WHERE stream_type = 'run' AND global_position IS NOT NULL ORDER BY global_position`)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var evs []soakRunEvent
	byWorker := map[string]int{}
	for rows.Next() {
		var e soakRunEvent
		var worker string
		if err := rows.Scan(&e.Stream, &e.Type, &e.Identity, &worker, &e.Tx); err != nil {
			return nil, "", err
		}
		if e.Type == "RunStarted" {
			byWorker[worker]++
		}
		evs = append(evs, e)
	}
	var parts []string
	for w, n := range byWorker {
		parts = append(parts, fmt.Sprintf("%s %d", w, n))
	}
	sort.Strings(parts)
	return evs, strings.Join(parts, ", "), rows.Err()
}

// tableSums is the md5 and row count of every read-model table.
func (s *soak) tableSums(ctx context.Context) (map[string]string, error) {
	sums := map[string]string{}
	for _, p := range monolith.Projections() {
		for _, tb := range p.Tables() {
			var sum string
			var n int
			if err := s.pool.QueryRow(ctx, `SELECT md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), '')), count(*)
				FROM `+pgx.Identifier{tb.Name}.Sanitize()+` r`).Scan(&sum, &n); err != nil {
				return nil, fmt.Errorf("checksum %s: %w", tb.Name, err)
			}
			sums[tb.Name] = fmt.Sprintf("%s (%d rows)", sum, n)
		}
	}
	return sums, nil
}

// compareRebuild catches every projection up, checksums its tables, rebuilds it from
// position 0 and checksums again.
func (s *soak) compareRebuild(ctx context.Context) (equal, tables int, diff string, err error) {
	r := projections.NewRunner(s.pool, s.app.Store, projections.Options{})
	ps := monolith.Projections()
	for _, p := range ps {
		if err := r.EnsureVersion(ctx, p); err != nil {
			return 0, 0, "", err
		}
		if _, err := r.CatchUp(ctx, p); err != nil {
			return 0, 0, "", err
		}
	}
	if s.tamper != nil {
		if err := s.tamper(ctx); err != nil {
			return 0, 0, "", err
		}
	}
	live, err := s.tableSums(ctx)
	if err != nil {
		return 0, 0, "", err
	}
	for _, p := range ps {
		if _, err := r.Rebuild(ctx, p, nil); err != nil {
			return 0, 0, "", err
		}
	}
	rebuilt, err := s.tableSums(ctx)
	if err != nil {
		return 0, 0, "", err
	}
	var diffs []string
	for name, sum := range live {
		tables++
		if rebuilt[name] == sum {
			equal++
		} else {
			diffs = append(diffs, fmt.Sprintf("%s live %s, rebuilt %s", name, sum, rebuilt[name]))
		}
	}
	sort.Strings(diffs)
	return equal, tables, firstOf(diffs), nil
}

// secretScan counts the planted secret in the events, the read models, the logs of
// the servers and workers, and the answers and streams the soak received.
func (s *soak) secretScan(ctx context.Context) (string, int, error) {
	secrets := []string{s.secret}
	var events, eventHits int
	if err := s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE strpos(data::text || ' ' || actor, $1) > 0) FROM es_events`,
		s.secret).Scan(&events, &eventHits); err != nil {
		return "", 0, err
	}
	var rmRows, rmHits int
	for _, p := range monolith.Projections() {
		for _, tb := range p.Tables() {
			var n, h int
			if err := s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE strpos(r::text, $1) > 0) FROM `+
				pgx.Identifier{tb.Name}.Sanitize()+` r`, s.secret).Scan(&n, &h); err != nil {
				return "", 0, err
			}
			rmRows, rmHits = rmRows+n, rmHits+h
		}
	}
	var logLines, logHits int
	for _, c := range append(append([]*soakChild{}, s.serves...), s.workers...) {
		out := c.out.String()
		logLines += strings.Count(out, "\n")
		logHits += secretCount(out, secrets)
	}
	s.stats.mu.Lock()
	answers, answerHits := s.stats.answers+s.stats.streams, s.stats.secretHits
	s.stats.mu.Unlock()
	hits := eventHits + rmHits + logHits + answerHits
	return fmt.Sprintf("%d hits: %d in %d events, %d in %d read-model rows, %d in %d log lines, %d in %d answers and streams",
		hits, eventHits, events, rmHits, rmRows, logHits, logLines, answerHits, answers), hits, nil
}
