package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// TestServeLiveStream: `atlas serve` refuses a malformed stream cap, runs exactly one
// run change listener, pushes a run's change to its open viewer (the event appended by
// another process, applied by serve's projection, notified, fanned out), and answers
// 429 past ATLAS_MAX_STREAMS_PER_USER.
func TestServeLiveStream(t *testing.T) {
	t.Parallel()
	pool, env, a, seed := seededFresh(t)

	bad := map[string]string{"DATABASE_URL": env["DATABASE_URL"], "ATLAS_MAX_STREAMS": "lots"}
	code, _, stderr := atlas(t.Context(), bad, "serve", "--addr", "127.0.0.1:0")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "ATLAS_MAX_STREAMS must be a whole number")

	env["ATLAS_MAX_STREAMS_PER_USER"] = "1"
	srv := startAtlas(t, env, "serve", "--addr", "127.0.0.1:0")
	addr := srv.servingAddr(t)
	defer srv.stop(t)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = $1`, "LISTEN "+projections.RunChangedChannel).Scan(&n))
		return n == 1
	}, 10*time.Second, 20*time.Millisecond, "one listener for the process")

	// A run queued by another process (no dispatch job: no worker takes it).
	op := seed.Users["operator"]
	runID := uuid.Must(uuid.NewV7())
	meta := eventstore.Metadata{Actor: "user:" + op.ID.String(), WorkspaceID: seed.Workspace, TenantID: seed.Tenants[0].ID, CorrelationID: runID}
	_, err := a.Store.Append(t.Context(), operations.RunStream(runID), eventstore.NoStream, eventstore.NewEvent{Data: operations.RunQueued{
		RunID: runID, Type: "drift.generate", WorkspaceID: seed.Workspace, TenantID: seed.Tenants[0].ID,
		Initiator: operations.Initiator{Kind: "user", UserID: op.ID, Name: op.Email}, IdentityHash: "stream-test-" + runID.String(),
		Context: json.RawMessage(`{}`), SourceSurface: "test", QueuedAt: time.Now().UTC()}, Metadata: meta})
	require.NoError(t, err)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + addr
	resp, err := client.Get(base + "/admin/login")
	require.NoError(t, err)
	page := new(strings.Builder)
	_, _ = bufio.NewReader(resp.Body).WriteTo(page)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page.String())
	require.NotNil(t, m)
	resp, err = client.PostForm(base+"/admin/login", url.Values{"email": {op.Email}, "password": {op.Password}, "_csrf": {m[1]}})
	require.NoError(t, err)
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	open := func() *http.Response {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/admin/operations/"+runID.String()+"/stream", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		return resp
	}
	stream := open()
	defer stream.Body.Close()
	require.Equal(t, http.StatusOK, stream.StatusCode)
	statuses := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var st struct{ Status string }
				if json.Unmarshal([]byte(data), &st) == nil {
					statuses <- st.Status
				}
			}
		}
		close(statuses)
	}()
	require.Equal(t, "queued", <-statuses)

	second := open()
	second.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, second.StatusCode, "past ATLAS_MAX_STREAMS_PER_USER")
	require.NotEmpty(t, second.Header.Get("Retry-After"))

	_, err = a.Store.Append(t.Context(), operations.RunStream(runID), 1, eventstore.NewEvent{
		Data: operations.RunStarted{WorkerID: "elsewhere", StartedAt: time.Now().UTC()}, Metadata: meta})
	require.NoError(t, err)
	select {
	case st := <-statuses:
		require.Equal(t, "running", st)
	case <-ctx.Done():
		t.Fatal("the change was never pushed to the open stream")
	}
}
