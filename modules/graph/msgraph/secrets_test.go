package msgraph_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/graph/msgraph"
)

// countingTransport counts every request the client lets out of the process.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestRefusedSecretRefsSendNothing: references outside the allowed variables or the
// secrets directory (a foreign variable, a .. escape, an absolute path, a symlink out
// of the directory, a 1 GiB file) and plain-http endpoints off loopback are each refused
// with a clear invalid_client error before any request: the token server counts zero
// hits, no request leaves the process, and no error holds a secret value.
func TestRefusedSecretRefsSendNothing(t *testing.T) {
	t.Parallel()
	const simSecret = "sim-secret-VALUE-1"
	sim := graphsim.New(graphsim.Config{ClientSecret: simSecret})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	dir, outside := t.TempDir(), t.TempDir()
	write := func(path, content string) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	}
	write(filepath.Join(dir, "good"), simSecret+"\n")
	require.NoError(t, os.Symlink(filepath.Join(dir, "good"), filepath.Join(dir, "alias")))
	write(filepath.Join(outside, "stolen"), "outside-VALUE-2")
	require.NoError(t, os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "outdir")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	// A sparse 1 GiB file: refused by its size, never read.
	f, err := os.Create(filepath.Join(dir, "huge"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<30))
	require.NoError(t, f.Close())

	env := map[string]string{
		"DATABASE_URL":               "postgres://root:db-VALUE-3@db.internal/prod",
		"ATLAS_SESSION_KEY":          "session-VALUE-4",
		"ATLAS_GRAPH_SECRET_CONTOSO": simSecret,
	}
	transport := &countingTransport{next: http.DefaultTransport}
	client := msgraph.New(msgraph.Options{HTTPClient: &http.Client{Transport: transport}, SecretsDir: dir,
		Getenv: func(k string) string { return env[k] }, Timeout: 10 * time.Second})
	base := graph.Connection{EntraTenantID: tenantA, ClientID: "app-1", BaseURL: srv.URL}
	ctx := context.Background()

	cases := []struct {
		name, ref, baseURL, want string
	}{
		{"a variable outside the prefix", "env:DATABASE_URL", "", "must name a variable starting with ATLAS_GRAPH_SECRET_"},
		{"the session key", "env:ATLAS_SESSION_KEY", "", "must name a variable starting with ATLAS_GRAPH_SECRET_"},
		{"a .. escape", "file:../../etc/passwd", "", "relative to ATLAS_SECRETS_DIR, without .."},
		{"a .. inside the path", "file:sub/../../etc/passwd", "", "relative to ATLAS_SECRETS_DIR, without .."},
		{"an absolute path", "file:/etc/passwd", "", "without .. or a leading /"},
		{"a symlink out of the directory", "file:escape", "", "outside ATLAS_SECRETS_DIR"},
		{"a directory symlink out of the directory", "file:outdir/stolen", "", "outside ATLAS_SECRETS_DIR"},
		{"a 1 GiB file", "file:huge", "", "larger than 64 KiB"},
		{"a missing file", "file:nope", "", "does not exist"},
		{"a directory", "file:sub", "", "not a regular file"},
		{"plain http off loopback", "env:ATLAS_GRAPH_SECRET_CONTOSO", "http://graph.example.test", "must use https"},
	}
	for _, tc := range cases {
		conn := base
		conn.SecretRef = tc.ref
		if tc.baseURL != "" {
			conn.BaseURL = tc.baseURL
		}
		start := time.Now()
		_, _, err := listAll(ctx, client, conn, "organization")
		took := time.Since(start)
		ge := requireKind(t, err, graph.KindInvalidClient, 0)
		require.Contains(t, ge.Message, tc.want, tc.name)
		require.Less(t, took, 2*time.Second, "%s: refused quickly", tc.name)
		text := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
		for _, secret := range []string{simSecret, "outside-VALUE-2", "db-VALUE-3", "session-VALUE-4", "root:"} {
			require.NotContains(t, text, secret, tc.name)
		}
	}
	require.Zero(t, hits.Load(), "the token server was never asked")
	require.Zero(t, transport.n.Load(), "no request left the process")

	// file: references with no secrets directory configured are refused too.
	noDir := msgraph.New(msgraph.Options{HTTPClient: &http.Client{Transport: transport}})
	conn := base
	conn.SecretRef = "file:good"
	_, _, err = listAll(ctx, noDir, conn, "organization")
	ge := requireKind(t, err, graph.KindInvalidClient, 0)
	require.Contains(t, ge.Message, "ATLAS_SECRETS_DIR is not set")
	require.Zero(t, hits.Load())
	require.Zero(t, transport.n.Load())

	// The same server and client work with allowed references (the counters count).
	for _, ref := range []string{"file:good", "file:alias", "env:ATLAS_GRAPH_SECRET_CONTOSO"} {
		conn.SecretRef = ref
		all, _, err := listAll(ctx, client, conn, "organization")
		require.NoError(t, err, ref)
		require.Len(t, all, 1)
	}
	require.Positive(t, hits.Load())
	require.Equal(t, hits.Load(), transport.n.Load())
}
