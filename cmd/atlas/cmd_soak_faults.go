package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
)

// injectFaults runs the fault schedule over the load (each at a fraction of the
// duration; a fault that takes long delays the next ones).
func (s *soak) injectFaults(ctx context.Context) error {
	begin := time.Now()
	at := func(frac float64) bool {
		sleepCtx(ctx, time.Until(begin.Add(time.Duration(frac*float64(s.duration)))))
		return ctx.Err() == nil
	}
	var allTypes []string
	for _, c := range graph.Types() {
		allTypes = append(allTypes, c.Type)
	}
	steps := []struct {
		frac float64
		do   func(context.Context) error
	}{
		{0.10, func(ctx context.Context) error {
			return s.graphFaults(ctx, "throttle", "429 + Retry-After: 1 on the next 40 requests, error bodies leak the secret",
				map[string]graphsim.Faults{"": {Throttle: 40, RetryAfter: "1", LeakToken: true}})
		}},
		{0.15, s.terminateBackends},
		{0.25, s.killWorker},
		{0.35, s.idleTransaction},
		{0.40, func(ctx context.Context) error {
			f := map[string]graphsim.Faults{"": {Unavailable: 30, LeakToken: true},
				s.entraIDs[0]: {Latency: 1500 * time.Millisecond},
				s.entraIDs[1]: {PermissionDenied: allTypes, LeakToken: true},
				s.entraIDs[2]: {ConsentMissing: true, LeakToken: true}}
			return s.graphFaults(ctx, "fail+slow", "503 on the next 30 requests; one tenant 1.5 s slow, one denied, one without consent", f)
		}},
		{0.45, s.killLeader},
		{0.55, s.terminateBackends},
		{0.65, func(ctx context.Context) error {
			return s.graphFaults(ctx, "throttle storm", "every request answered 429 once first",
				map[string]graphsim.Faults{"": {ThrottleEach: 1, RetryAfter: "1", LeakToken: true}})
		}},
		{0.70, s.killLeader},
		{0.80, func(ctx context.Context) error {
			if err := s.simControl(ctx, http.MethodDelete, "", nil); err != nil {
				return err
			}
			return s.terminateBackends(ctx)
		}},
	}
	for _, st := range steps {
		if !at(st.frac) {
			return nil
		}
		// A fault's restarts and measurements run past the load's end (they use
		// context.WithoutCancel): an error is never the load ending.
		if err := st.do(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return nil
}

// simControl switches the simulator's faults (graphsim.ControlPath).
func (s *soak) simControl(ctx context.Context, method, tenant string, f *graphsim.Faults) error {
	body := ""
	if f != nil {
		b, _ := json.Marshal(f)
		body = string(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, "http://"+s.sim.addr+graphsim.ControlPath+"?tenant="+url.QueryEscape(tenant), strings.NewReader(body))
	resp, err := soakHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("switch the simulator's faults: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("switch the simulator's faults: %d", resp.StatusCode)
	}
	return nil
}

// graphFaults sets the simulator's faults per Entra tenant ("" for every other one).
func (s *soak) graphFaults(ctx context.Context, kind, detail string, byTenant map[string]graphsim.Faults) error {
	if err := s.simControl(ctx, http.MethodDelete, "", nil); err != nil {
		return err
	}
	for t, f := range byTenant {
		if err := s.simControl(ctx, http.MethodPut, t, &f); err != nil {
			return err
		}
	}
	now := time.Now()
	if kind == "throttle" {
		// Prove the plant: the simulator's error bodies now carry the secret, so a
		// client passing them on would leak it.
		if n, err := s.leakedBodies(ctx); err == nil {
			detail += fmt.Sprintf("; the soak saw the secret in %d simulator error body", n)
		}
	}
	s.addFault(soakFault{Kind: "graph " + kind, Start: now, End: now, Detail: detail})
	return nil
}

// leakedBodies asks the simulator for a token and a page as a connection would, and
// counts the error bodies carrying the planted secret (1 under a leaking fault).
func (s *soak) leakedBodies(ctx context.Context) (int, error) {
	base := "http://" + s.sim.addr
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"soak"}, "client_secret": {s.secret},
		"scope": {"https://graph.microsoft.com/.default"}}
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/"+s.entraIDs[len(s.entraIDs)-1]+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := soakHTTP.Do(req)
	if err != nil {
		return 0, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"/v1.0/groups", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = soakHTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return min(1, secretCount(string(b), []string{s.secret})), nil
}

// terminateBackends ends up to four random backends of the servers and workers
// (pg_terminate_backend).
func (s *soak) terminateBackends(ctx context.Context) error {
	start := time.Now()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM (
		SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'soak-%'
		AND pid <> pg_backend_pid() ORDER BY random() LIMIT 4) b`).Scan(&n)
	if err != nil {
		return fmt.Errorf("terminate backends: %w", err)
	}
	s.addFault(soakFault{Kind: "pg_terminate_backend", Start: start, End: time.Now(), Explains: true, Detail: fmt.Sprintf("%d backends", n)})
	return nil
}

// killWorker SIGKILLs the first worker while it works a run (waiting up to 5 s for
// one), then starts it again.
func (s *soak) killWorker(ctx context.Context) error {
	w := s.workers[0]
	var running int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ops_runs WHERE status = 'running' AND worker_id = $1`, w.name).Scan(&running); err == nil && running > 0 {
			break
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	start := time.Now()
	w.kill()
	sleepCtx(context.WithoutCancel(ctx), time.Second)
	if err := w.restart(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	s.addFault(soakFault{Kind: "worker SIGKILL", Start: start, End: time.Now(), Detail: fmt.Sprintf("%s with %d runs running, restarted", w.name, running)})
	return nil
}

// idleTransaction holds a transaction with an id open for 4 s: sealing cannot pass it.
func (s *soak) idleTransaction(ctx context.Context) error {
	start := time.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		return err
	}
	var most int64
	for time.Since(start) < 4*time.Second && ctx.Err() == nil {
		if n, err := s.app.Store.Unsealed(ctx); err == nil {
			most = max(most, n)
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	_ = tx.Rollback(ctx)
	s.addFault(soakFault{Kind: "idle transaction", Start: start, End: time.Now(),
		Detail: fmt.Sprintf("held %.1fs, up to %d committed events waited for the seal", time.Since(start).Seconds(), most)})
	return nil
}

// killLeader SIGKILLs the process leading soakProjection, times until another process
// holds its lock, and starts the killed one again.
func (s *soak) killLeader(ctx context.Context) error {
	pid, app, _, err := s.leader(ctx, soakProjection)
	if err != nil {
		return err
	}
	c := s.child(app)
	if c == nil {
		s.addFault(soakFault{Kind: "leader kill", Start: time.Now(), End: time.Now(), Detail: "no leader found (" + app + ")"})
		return nil
	}
	// The lock is watched on a connection taken before the kill: a server short of
	// connections cannot hide the handover.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	start := time.Now()
	c.kill()
	var handover time.Duration
	var next string
	var lastErr error
	for time.Since(start) < 30*time.Second {
		p, a, _, err := leaderOn(context.WithoutCancel(ctx), conn.Conn(), soakProjection)
		if err == nil && p != 0 && p != pid {
			handover, next = time.Since(start), a
			break
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.restart(context.WithoutCancel(ctx)); err != nil {
		s.addFault(soakFault{Kind: "leader kill", Start: start, End: time.Now(), Explains: c.kind == "serve", Detail: c.name + " not restarted"})
		return err
	}
	detail := fmt.Sprintf("%s led %s; ", c.name, soakProjection)
	if next == "" {
		detail += "no process took over within 30s"
		if lastErr != nil {
			detail += " (" + oneLine(lastErr.Error()) + ")"
		}
		handover = 30 * time.Second
	} else {
		detail += fmt.Sprintf("%s took over in %.2fs", strings.TrimPrefix(next, "soak-"), handover.Seconds())
	}
	s.faultsMu.Lock()
	s.handovers = append(s.handovers, handover)
	s.faultsMu.Unlock()
	s.addFault(soakFault{Kind: "leader kill", Start: start, End: time.Now(), Explains: c.kind == "serve", Detail: detail})
	if c.kind == "serve" {
		// A new process: its baseline is taken anew once it has settled.
		go func() {
			sleepCtx(ctx, 3*time.Second)
			if smp, err := s.sample(context.WithoutCancel(ctx), c); err == nil {
				s.faultsMu.Lock()
				s.baselines[c.name] = smp
				s.faultsMu.Unlock()
			}
		}()
	}
	return nil
}
