package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// TestServeRefusesABadEdgeConfig: a trusted proxy that is no IP or CIDR, or a request
// timeout that is no duration, stops `atlas serve` before it listens, with one line
// naming the variable.
func TestServeRefusesABadEdgeConfig(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	for name, value := range map[string]string{"ATLAS_TRUSTED_PROXIES": "10.0.0.1, proxy.example", "ATLAS_REQUEST_TIMEOUT": "soon"} {
		code, _, stderr := atlas(t.Context(), map[string]string{"DATABASE_URL": url, name: value}, "serve", "--addr", "127.0.0.1:0")
		require.Equal(t, 1, code, stderr)
		require.Contains(t, stderr, name)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	}
	proxies, timeout, err := webEdge(&cli{getenv: func(k string) string {
		return map[string]string{"ATLAS_TRUSTED_PROXIES": "10.0.0.0/8, ::1", "ATLAS_REQUEST_TIMEOUT": "5s"}[k]
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.0/8", "::1"}, proxies)
	require.Equal(t, "5s", timeout.String())
}
