package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// soakStats is what the callers and viewers saw.
type soakStats struct {
	mu         sync.Mutex
	requests   map[string]int // by action
	starts     map[string]int // start answers by StartOutcome status
	accepted   []string       // run ids of accepted starts
	acceptedAt map[string]time.Time
	wrong      []string // refusals (or plain requests) answered otherwise than the contract says
	failures   []soakFailure
	unanswered int // failures without an answer (connection refused or reset)
	secretHits int
	answers    int
	streams    int // streams opened (200)
	streamCaps int // streams refused past the cap (429)
	pushes     int // stream messages received
	dupPairs   int
	dupBoth    int // duplicate pairs where both were accepted (the first ended in between)
}

func (st *soakStats) add(f func(st *soakStats)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.requests == nil {
		st.requests, st.starts, st.acceptedAt = map[string]int{}, map[string]int{}, map[string]time.Time{}
	}
	f(st)
}

func (st *soakStats) summary() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	total := 0
	var parts []string
	for k, n := range st.requests {
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	var starts []string
	for k, n := range st.starts {
		starts = append(starts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(starts)
	return fmt.Sprintf("%d requests (%s); starts: %s; duplicate pairs %d; streams %d opened, %d capped, %d pushes",
		total, strings.Join(parts, ", "), strings.Join(starts, ", "), st.dupPairs, st.streams, st.streamCaps, st.pushes)
}

// soakHTTP is the callers' client: bounded, keeping connections per server.
var soakHTTP = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// soakAnswer is one API answer.
type soakAnswer struct {
	status int
	body   []byte
	err    error
}

// call sends one API request to a serve (round robin by n) and records its answer:
// 5xx and transport errors as failures (to be explained by faults), any planted
// secret in the body as a hit.
func (s *soak) call(ctx context.Context, n int, action, method, path, token, body string) soakAnswer {
	srv := s.serves[n%len(s.serves)]
	req, err := http.NewRequestWithContext(ctx, method, "http://"+srv.addr+path, strings.NewReader(body))
	if err != nil {
		return soakAnswer{err: err}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := soakHTTP.Do(req)
	var a soakAnswer
	if err != nil {
		a.err = err
	} else {
		a.status = resp.StatusCode
		a.body, a.err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
	}
	if ctx.Err() != nil { // the load ended mid-request: not an answer
		return soakAnswer{err: ctx.Err()}
	}
	if a.err != nil {
		// A server down (killed, restarting): a caller backs off as a client would,
		// instead of counting a thousand refused connections.
		defer sleepCtx(ctx, 100*time.Millisecond)
	}
	s.stats.add(func(st *soakStats) {
		st.requests[action]++
		st.answers++
		st.secretHits += secretCount(string(a.body), []string{s.secret})
		switch {
		case a.err != nil:
			st.unanswered++
			st.failures = append(st.failures, soakFailure{At: time.Now(), What: fmt.Sprintf("%s %s (%s): %s", method, path, srv.name, oneLine(a.err.Error()))})
		case a.status >= 500:
			st.failures = append(st.failures, soakFailure{At: time.Now(), What: fmt.Sprintf("%s %s (%s): %d", method, path, srv.name, a.status)})
		}
	})
	return a
}

// expect records a wrong answer when a is an answer (not a failure) with none of the
// statuses want.
func (s *soak) expect(action string, a soakAnswer, want ...int) bool {
	if a.err != nil || a.status >= 500 {
		return false
	}
	for _, w := range want {
		if a.status == w {
			return true
		}
	}
	s.stats.add(func(st *soakStats) {
		if len(st.wrong) < 20 {
			st.wrong = append(st.wrong, fmt.Sprintf("%s answered %d (want %v): %.200s", action, a.status, want, a.body))
		} else {
			st.wrong = append(st.wrong, "…")
		}
	})
	return false
}

// soakStartTypes are the run types the callers start, with their contexts.
var soakStartTypes = []struct{ typ, context string }{
	{"inventory.sync", `{"policyTypes":["deviceConfigurations"]}`},
	{"inventory.sync", `{"policyTypes":["compliancePolicies"]}`},
	{"directory.groups.sync", `{}`},
	{"directory.role_definitions.sync", `{}`},
	{"provider.verify", `{}`},
	{"drift.generate", `{"baseline":"soak"}`},
}

// start starts a run as the operator and records the outcome.
func (s *soak) start(ctx context.Context, n int, action, tenant string, k int) string {
	st := soakStartTypes[k%len(soakStartTypes)]
	a := s.call(ctx, n, action, "POST", "/api/v1/tenants/"+tenant+"/operations/"+st.typ+"/start",
		s.seed.Users["operator"].Token, `{"context":`+st.context+`,"providerConnectionId":null}`)
	if !s.expect(action, a, http.StatusOK) {
		return ""
	}
	var out struct {
		Status string `json:"status"`
		Run    *struct {
			ID string `json:"id"`
		} `json:"run"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		s.expect(action+" (not a StartOutcome)", soakAnswer{status: 0, body: a.body})
		return ""
	}
	s.stats.add(func(st *soakStats) {
		st.starts[out.Status]++
		if out.Status == "accepted" && out.Run != nil {
			st.accepted = append(st.accepted, out.Run.ID)
			st.acceptedAt[out.Run.ID] = time.Now()
		}
	})
	return out.Status
}

// recentRun is an accepted run id (the newest ones more often), "" before any.
func (s *soak) recentRun(r *rand.Rand) string {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	if len(s.stats.accepted) == 0 {
		return ""
	}
	i := len(s.stats.accepted) - 1 - r.IntN(min(len(s.stats.accepted), 20))
	return s.stats.accepted[i]
}

// caller is one API caller: a mixed load until ctx ends.
func (s *soak) caller(ctx context.Context, id int) {
	r := rand.New(rand.NewPCG(uint64(id), 42))
	users := s.seed.Users
	for n := id; ctx.Err() == nil; n++ {
		tenant := s.tenantIDs[r.IntN(len(s.tenantIDs))]
		switch k := r.IntN(100); {
		case k < 30:
			s.start(ctx, n, "start", tenant, r.IntN(len(soakStartTypes)))
		case k < 38: // the same start twice at once: one accepted, one deduped
			t := r.IntN(len(soakStartTypes))
			var a, b string
			var wg sync.WaitGroup
			wg.Go(func() { a = s.start(ctx, n, "duplicate start", tenant, t) })
			wg.Go(func() { b = s.start(ctx, n+1, "duplicate start", tenant, t) })
			wg.Wait()
			s.stats.add(func(st *soakStats) {
				st.dupPairs++
				if a == "accepted" && b == "accepted" {
					st.dupBoth++
				}
			})
		case k < 46: // two provider-backed runs on one scope: one of them scope_busy
			var wg sync.WaitGroup
			wg.Go(func() { s.start(ctx, n, "conflicting scope", tenant, 0) })
			wg.Go(func() { s.start(ctx, n+1, "conflicting scope", tenant, 2) })
			wg.Wait()
		case k < 52:
			tok := ""
			if r.IntN(2) == 0 {
				tok = "atl_not_a_token_" + fmt.Sprint(n)
			}
			s.expect("unauthenticated", s.call(ctx, n, "unauthenticated", "GET", "/api/v1/operations?limit=5", tok, ""), http.StatusUnauthorized)
		case k < 58:
			s.expect("forbidden", s.call(ctx, n, "forbidden", "POST", "/api/v1/tenants/"+tenant+"/operations/inventory.sync/start",
				users["readonly"].Token, `{"context":{}}`), http.StatusForbidden)
		case k < 66:
			if run := s.recentRun(r); run != "" && r.IntN(2) == 0 {
				s.expect("cross-tenant", s.call(ctx, n, "cross-tenant", "GET", "/api/v1/operations/"+run, users["outsider"].Token, ""), http.StatusNotFound)
			} else {
				s.expect("cross-tenant", s.call(ctx, n, "cross-tenant", "POST", "/api/v1/tenants/"+tenant+"/operations/drift.generate/start",
					users["outsider"].Token, `{"context":{}}`), http.StatusNotFound)
			}
		case k < 74:
			bodies := []string{`{"context":`, `[1,2,3]`, `{"context":{"policyTypes":42}}`, "\x00\xff"}
			s.expect("malformed", s.call(ctx, n, "malformed", "POST", "/api/v1/tenants/"+tenant+"/operations/inventory.sync/start",
				users["operator"].Token, bodies[r.IntN(len(bodies))]), http.StatusBadRequest, http.StatusUnprocessableEntity)
		case k < 87:
			s.expect("list", s.call(ctx, n, "list", "GET", "/api/v1/operations?limit=20&tenant="+tenant, users["owner"].Token, ""), http.StatusOK)
		default:
			if run := s.recentRun(r); run != "" {
				s.expect("detail", s.call(ctx, n, "detail", "GET", "/api/v1/operations/"+run, users["operator"].Token, ""), http.StatusOK)
			}
		}
	}
}

var soakCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// hubLogin signs a viewer in on the hub of serve n.
func (s *soak) hubLogin(ctx context.Context, n int, email, password string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Jar: jar, Transport: &http.Transport{}}
	base := "http://" + s.serves[n%len(s.serves)].addr
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/admin/login", nil)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := soakCSRF.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("no login form (%d)", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(ctx, "POST", base+"/admin/login",
		strings.NewReader(url.Values{"email": {email}, "password": {password}, "_csrf": {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return client, nil
}

// viewer is a hub user holding live run streams open (a few seconds each, on the
// newest runs) until ctx ends; it reads every pushed change and greps it for secrets.
func (s *soak) viewer(ctx context.Context, id int) {
	r := rand.New(rand.NewPCG(uint64(id), 7))
	who := []string{"operator", "owner", "compliance", "readonly"}[id%4]
	u := s.seed.Users[who]
	var client *http.Client
	for n := id; ctx.Err() == nil; n++ {
		if client == nil {
			c, err := s.hubLogin(ctx, n, u.Email, u.Password)
			if err != nil {
				sleepCtx(ctx, 500*time.Millisecond)
				continue
			}
			client = c
		}
		run := s.recentRun(r)
		if run == "" {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		hold, cancel := context.WithTimeout(ctx, time.Duration(2000+r.IntN(3000))*time.Millisecond)
		base := "http://" + s.serves[n%len(s.serves)].addr
		req, _ := http.NewRequestWithContext(hold, "GET", base+"/admin/operations/"+run+"/stream", nil)
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		switch resp.StatusCode {
		case http.StatusOK:
			pushes, hits := 0, 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					pushes++
				}
				hits += secretCount(sc.Text(), []string{s.secret})
			}
			s.stats.add(func(st *soakStats) { st.streams++; st.pushes += pushes; st.secretHits += hits })
		case http.StatusTooManyRequests:
			s.stats.add(func(st *soakStats) { st.streamCaps++ })
		case http.StatusSeeOther, http.StatusFound, http.StatusUnauthorized:
			client = nil // the session ended (a restarted server keeps it; a lost cookie does not)
		}
		resp.Body.Close()
		cancel()
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// warmUp makes a few requests on every server and takes each one's baseline.
func (s *soak) warmUp(ctx context.Context) error {
	for i := range 3 * len(s.serves) {
		s.call(ctx, i, "warm-up", "GET", "/api/v1/operations?limit=5", s.seed.Users["owner"].Token, "")
	}
	s.baselines = map[string]soakSample{}
	for _, c := range s.serves {
		smp, err := s.sample(ctx, c)
		if err != nil {
			return err
		}
		s.baselines[c.name] = smp
	}
	return nil
}

// sample reads a server's goroutines and heap from /metrics.
func (s *soak) sample(ctx context.Context, c *soakChild) (soakSample, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+c.addr+"/metrics", nil)
	resp, err := soakHTTP.Do(req)
	if err != nil {
		return soakSample{}, fmt.Errorf("metrics of %s: %w", c.name, err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	smp, ok := parseSoakSample(string(page))
	if !ok {
		return soakSample{}, fmt.Errorf("metrics of %s: no go_goroutines or go_memstats_heap_inuse_bytes", c.name)
	}
	return smp, nil
}
