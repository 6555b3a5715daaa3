package graph_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph"
)

func TestCheckSecretRef(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"env:ATLAS_GRAPH_SECRET_CONTOSO", "env:ATLAS_GRAPH_SECRET_2", "env:ATLAS_DEMO_CLIENT_SECRET",
		"file:contoso", "file:tenants/contoso.secret", "file:./contoso"} {
		require.NoError(t, graph.CheckSecretRef(ok), ok)
	}
	for _, bad := range []string{"", "plain-secret", "vault:x", "env:", "env:DATABASE_URL", "env:ATLAS_GRAPH_SECRET_",
		"env:ATLAS_GRAPH_SECRET", "env:ATLAS_GRAPH_SECRET_a", "env:ATLAS_GRAPH_SECRET_X-Y", "env:ATLAS_SESSION_KEY",
		"file:", "file:/etc/passwd", "file:../../etc/passwd", "file:a/../../b", "file:a/../b", "file:..", `file:a\..\b`, "file:a\x00b"} {
		err := graph.CheckSecretRef(bad)
		require.ErrorIs(t, err, graph.ErrSecretRef, "%q", bad)
	}
}

func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "https://graph.microsoft.com", "https://graph-simulator.demo", "http://127.0.0.1:8080",
		"http://127.9.9.9", "http://[::1]:9000/v1", "http://localhost:1234", "http://LOCALHOST", "HTTPS://graph.example"} {
		require.NoError(t, graph.CheckEndpoint(ok), ok)
	}
	for _, bad := range []string{"http://graph.example", "http://graph-simulator.demo", "http://10.0.0.1", "http://[::2]",
		"http://localhost.evil.example", "http://127.0.0.1.nip.io", "ftp://127.0.0.1", "/graph", "graph.example", "http://"} {
		require.ErrorIs(t, graph.CheckEndpoint(bad), graph.ErrEndpoint, bad)
	}
}

// TestResolveSecretBounds: a file of exactly MaxSecretSize bytes resolves, one byte more
// is refused; a FIFO is refused without blocking; a value is trimmed and never empty.
func TestResolveSecretBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	max := strings.Repeat("s", graph.MaxSecretSize)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "max"), []byte(max), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "over"), []byte(max+"s"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "blank"), []byte(" \n"), 0o600))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))

	v, err := graph.ResolveSecret("file:max", dir, nil)
	require.NoError(t, err)
	require.Equal(t, max, v)
	_, err = graph.ResolveSecret("file:over", dir, nil)
	require.ErrorIs(t, err, graph.ErrSecretRef)
	require.Contains(t, err.Error(), "larger than 64 KiB")
	_, err = graph.ResolveSecret("file:fifo", dir, nil)
	require.ErrorIs(t, err, graph.ErrSecretRef)
	require.Contains(t, err.Error(), "not a regular file")
	_, err = graph.ResolveSecret("file:blank", dir, nil)
	require.ErrorIs(t, err, graph.ErrSecretRef)

	getenv := func(k string) string {
		return map[string]string{"ATLAS_GRAPH_SECRET_A": " value-a \n", "DATABASE_URL": "postgres://x"}[k]
	}
	v, err = graph.ResolveSecret("env:ATLAS_GRAPH_SECRET_A", "", getenv)
	require.NoError(t, err)
	require.Equal(t, "value-a", v)
	_, err = graph.ResolveSecret("env:DATABASE_URL", dir, getenv)
	require.ErrorIs(t, err, graph.ErrSecretRef)
	require.NotContains(t, err.Error(), "postgres://x")
	_, err = graph.ResolveSecret("env:ATLAS_GRAPH_SECRET_UNSET", dir, getenv)
	require.ErrorIs(t, err, graph.ErrSecretRef)
	_, err = graph.ResolveSecret("file:max", "", getenv)
	require.ErrorContains(t, err, "ATLAS_SECRETS_DIR is not set")
}
