package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

// streamState is what a viewer test reads of a "run" event.
type streamState struct {
	Status    string `json:"status"`
	StartedAt string `json:"startedAt"`
	Timeline  []struct {
		Type string `json:"type"`
	} `json:"timeline"`
}

// openStream opens a run's stream with b's session on client; the caller closes the body.
func openStream(t *testing.T, ctx context.Context, client *http.Client, base, runID string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/admin/operations/"+runID+"/stream", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	return resp
}

// follow reads a stream's "run" events into got until the body ends.
func follow(body io.ReadCloser, got *atomic.Pointer[streamState]) {
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var st streamState
			if json.Unmarshal([]byte(data), &st) == nil {
				got.Store(&st)
			}
		}
	}
}

// TestRunStreamPushScales opens 200 live viewers of one run over real HTTP connections
// and starts the run: every viewer sees it running, while the pool never has more than
// a few connections out and the change costs far fewer acquisitions than one per
// viewer (a poll per viewer would need at least one each). When the viewers go, their
// streams end and free their slots.
func TestRunStreamPushScales(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	s, err := monolith.SeedDemo(t.Context(), a)
	require.NoError(t, err)
	h := serveHub(t, a, pool, s, func(d *web.Deps) {
		d.Streams.MaxPerUser = 500 // all 200 as one user
		d.Streams.Heartbeat = 200 * time.Millisecond
	})
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+s.Tenants[2].ID.String()+"/operations/drift.generate/start", `{"context":{"baseline":"stream-scale"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)
	// The hub_runs projection runs as in `atlas serve`: it notifies the runs it applies.
	runCtx, stopRunner := context.WithCancel(t.Context())
	var runner sync.WaitGroup
	runner.Go(func() { _ = a.Runner.Run(runCtx, projections.HubRuns{}) })
	defer func() { stopRunner(); runner.Wait() }()

	b := newBrowser(t, h)
	b.login("readonly")
	client := &http.Client{Jar: b.client.Jar, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	t.Cleanup(client.CloseIdleConnections)

	const viewers = 200
	ctx, closeViewers := context.WithCancel(t.Context())
	defer closeViewers()
	states := make([]atomic.Pointer[streamState], viewers)
	var readers sync.WaitGroup
	for i := range viewers {
		resp := openStream(t, ctx, client, h.base, runID)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		readers.Go(func() { follow(resp.Body, &states[i]) })
	}
	waitAll := func(what string, ok func(*streamState) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			n := 0
			for i := range states {
				if st := states[i].Load(); st != nil && ok(st) {
					n++
				}
			}
			if n == viewers {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d viewers saw the run %s", n, viewers, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAll("queued", func(st *streamState) bool { return st.Status == "queued" })

	// While the 200 streams are open, sample the pool's connections out.
	var maxAcquired atomic.Int32
	sampling, stopSampling := context.WithCancel(t.Context())
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for sampling.Err() == nil {
			if n := pool.Stat().AcquiredConns(); n > maxAcquired.Load() {
				maxAcquired.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	})

	// The run starts: one event, applied by the hub_runs projection, which notifies. A
	// poll per viewer would cost at least one acquisition per viewer to see it.
	before := pool.Stat().AcquireCount()
	id := uuid.MustParse(runID)
	run, err := a.Operations.Claim(t.Context(), operations.Job{RunID: id, Type: "drift.generate"}, "stream-test")
	require.NoError(t, err)
	require.NotNil(t, run)
	waitAll("running", func(st *streamState) bool {
		return st.Status == "running" && st.StartedAt != "" && len(st.Timeline) > 0 && st.Timeline[len(st.Timeline)-1].Type == "RunStarted"
	})
	acquisitions := pool.Stat().AcquireCount() - before
	stopSampling()
	sampler.Wait()
	t.Logf("200 viewers: at most %d connections acquired at once; the change cost %d acquisitions", maxAcquired.Load(), acquisitions)
	require.LessOrEqual(t, maxAcquired.Load(), int32(4), "open viewers must not hold pool connections (the runner holds one)")
	require.Less(t, acquisitions, int64(viewers), "one load per change, not one query per viewer")

	// The viewers leave: every stream ends (its writer returns) and frees its slot.
	closeViewers()
	readers.Wait()
	requireOpenStreams(t, h, 0)
}

// requireOpenStreams waits (bounded) until /metrics reports n open streams: a stream's
// writer counts itself out only when it returns.
func requireOpenStreams(t *testing.T, h *hub, n int) {
	t.Helper()
	want := "atlas_run_streams_open " + strconv.Itoa(n) + "\n"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(h.base + "/metrics")
		require.NoError(t, err)
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		if strings.Contains(string(raw), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("open streams never came to %d", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunStreamCaps: past the per-user cap and past the process cap a stream is refused
// with 429 and Retry-After (the hub's error page, not a 500); a viewer that disconnects
// frees its slot.
func TestRunStreamCaps(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t), func(d *web.Deps) {
		d.Streams.MaxPerUser = 2
		d.Streams.MaxOpen = 3
		d.Streams.Heartbeat = 50 * time.Millisecond
	})
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+h.seed.Tenants[2].ID.String()+"/operations/drift.generate/start", `{"context":{"baseline":"stream-caps"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)

	viewer := func(who string) *http.Client {
		b := newBrowser(t, h)
		b.login(who)
		c := &http.Client{Jar: b.client.Jar, Transport: &http.Transport{}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	readonly, operator, owner := viewer("readonly"), viewer("operator"), viewer("owner")
	open := func(c *http.Client) (context.CancelFunc, *http.Response) {
		ctx, cancel := context.WithCancel(t.Context())
		resp := openStream(t, ctx, c, h.base, runID)
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NotContains(t, string(body), "goroutine")
		}
		return cancel, resp
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for range 2 {
		cancel, resp := open(readonly)
		cancels = append(cancels, cancel)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		go drain(resp.Body)
	}
	cancel, resp := open(readonly)
	cancel()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "past the per-user cap")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")

	cancel, resp = open(operator)
	cancels = append(cancels, cancel)
	require.Equal(t, http.StatusOK, resp.StatusCode, "another user has slots of their own")
	go drain(resp.Body)
	cancel, resp = open(owner)
	cancel()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "past the process cap")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	requireOpenStreams(t, h, 3)

	// One of readonly's viewers goes: its slot frees (found by the next heartbeat).
	cancels[0]()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cancel, resp := open(readonly)
		cancels = append(cancels, cancel)
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.True(t, time.Now().Before(deadline), "the disconnected viewer's slot was never freed")
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range cancels {
		c()
	}
	requireOpenStreams(t, h, 0)
}

// drain reads a stream until it ends.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, body)
	body.Close()
}

// TestRunStreamEndsWhenHubStops: when the process stops (the listener's context ends)
// every open stream ends at once, and a new one is refused with 503, not left hanging.
func TestRunStreamEndsWhenHubStops(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	code, started := h.call(t, "operator", "POST", "/api/v1/tenants/"+h.seed.Tenants[2].ID.String()+"/operations/drift.generate/start", `{"context":{"baseline":"stream-stop"}}`)
	require.Equal(t, 200, code)
	runID := started["run"].(map[string]any)["id"].(string)
	b := newBrowser(t, h)
	b.login("readonly")
	client := &http.Client{Jar: b.client.Jar, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // below the stream's own lifetime
	defer cancel()
	resp := openStream(t, ctx, client, h.base, runID)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got atomic.Pointer[streamState]
	ended := make(chan struct{})
	go func() { defer close(ended); follow(resp.Body, &got) }()
	require.Eventually(t, func() bool { st := got.Load(); return st != nil && st.Status == "queued" }, 10*time.Second, 10*time.Millisecond)

	h.stopStreams()
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the stream did not end when the hub stopped")
	}
	resp = openStream(t, ctx, client, h.base, runID)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	requireOpenStreams(t, h, 0)
}
