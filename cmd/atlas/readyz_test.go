package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/monolith"
)

// getJSON answers the status and JSON body of GET url.
func getJSON(t *testing.T, url string) (int, map[string]any, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	return resp.StatusCode, v, string(raw)
}

// TestReadyzRedWhileATransactionHoldsSealing runs `atlas serve` with a one-second stall
// threshold. A session elsewhere opens a transaction, takes a transaction id and sits
// idle in it; an event committed after it cannot be sealed. /readyz turns 503 naming
// sealing (and nothing of SQL), /metrics shows the waiting event, and once the
// transaction ends /readyz is 200 again.
func TestReadyzRedWhileATransactionHoldsSealing(t *testing.T) {
	t.Parallel()
	pool := pgtest.Fresh(t)
	url := pool.Config().ConnString()
	srv := startAtlas(t, map[string]string{"DATABASE_URL": url, "ATLAS_STALL_THRESHOLD": "1s"}, "serve", "--addr", "127.0.0.1:0")
	base := "http://" + srv.servingAddr(t)
	poll := func(want int) (map[string]any, string) {
		t.Helper()
		var body map[string]any
		var raw string
		code := 0
		for deadline := time.Now().Add(30 * time.Second); code != want && time.Now().Before(deadline); {
			code, body, raw = getJSON(t, base+"/readyz")
			if code != want {
				time.Sleep(50 * time.Millisecond)
			}
		}
		require.Equal(t, want, code, raw)
		return body, raw
	}
	poll(200)

	holder, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer holder.Close(t.Context())
	tx, err := holder.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	_, err = tx.Exec(t.Context(), `SELECT txid_current()`)
	require.NoError(t, err)

	a := monolith.New(pool, monolith.Options{})
	require.NoError(t, a.Audit.Record(t.Context(), audit.AuditRecorded{Action: "test.stall", Outcome: "ok", Actor: "system:test"}))

	body, raw := poll(503)
	require.Equal(t, "not_ready", body["status"])
	sealing, _ := body["checks"].(map[string]any)["sealing"].(string)
	require.Regexp(t, `^stuck for \d+s: \d+ committed events wait for a global position`, sealing)
	require.Contains(t, sealing, "holds the seal horizon (open ", "the oldest transaction holding an id is described (ours, or an older one elsewhere on the server)")
	for _, leak := range []string{"SELECT", "SQLSTATE", "es_events", "txid"} {
		require.NotContains(t, raw, leak)
	}
	code, _, metrics := getJSON(t, base+"/metrics")
	require.Equal(t, 200, code)
	require.Regexp(t, `\natlas_events_unsealed [1-9]`, metrics)
	require.Regexp(t, `\natlas_seal_oldest_unsealed_age_seconds [1-9]`, metrics)

	require.NoError(t, tx.Rollback(t.Context()))
	poll(200)
	srv.stop(t)
}

// TestPoolTimeouts: the app's connections carry statement_timeout and
// idle_in_transaction_session_timeout (defaults, or from the environment), a long
// command runs without a statement timeout, the limit is enforced by the server, and a
// bad value is a usage error.
func TestPoolTimeouts(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	show := func(env map[string]string, command string) (string, string) {
		t.Helper()
		to, err := dbTimeoutsFor(&cli{getenv: func(k string) string { return env[k] }}, command)
		require.NoError(t, err)
		pool, err := openPool(t.Context(), url, 2, to)
		require.NoError(t, err)
		defer pool.Close()
		conn, err := pool.Acquire(t.Context())
		require.NoError(t, err)
		defer conn.Release()
		var st, idle string
		require.NoError(t, conn.QueryRow(t.Context(), `SHOW statement_timeout`).Scan(&st))
		require.NoError(t, conn.QueryRow(t.Context(), `SHOW idle_in_transaction_session_timeout`).Scan(&idle))
		return st, idle
	}
	st, idle := show(nil, "serve")
	require.Equal(t, []string{"30s", "1min"}, []string{st, idle})
	st, idle = show(map[string]string{"ATLAS_STATEMENT_TIMEOUT": "250ms", "ATLAS_IDLE_TX_TIMEOUT": "5s"}, "worker")
	require.Equal(t, []string{"250ms", "5s"}, []string{st, idle})
	st, idle = show(map[string]string{"ATLAS_STATEMENT_TIMEOUT": "250ms"}, "projections rebuild")
	require.Equal(t, []string{"0", "1min"}, []string{st, idle}, "a rebuild may run long statements")

	// The server enforces it.
	to, err := dbTimeoutsFor(&cli{getenv: func(k string) string { return map[string]string{"ATLAS_STATEMENT_TIMEOUT": "100ms"}[k] }}, "serve")
	require.NoError(t, err)
	pool, err := openPool(t.Context(), url, 1, to)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(t.Context(), `SELECT pg_sleep(2)`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Equal(t, "57014", pgErr.Code, "query_canceled by statement_timeout")

	code, _, stderr := atlas(t.Context(), map[string]string{"DATABASE_URL": url, "ATLAS_IDLE_TX_TIMEOUT": "soon"}, "serve")
	require.Equal(t, 2, code)
	require.True(t, strings.HasPrefix(stderr, "atlas serve: invalid ATLAS_IDLE_TX_TIMEOUT \"soon\""), stderr)
}
