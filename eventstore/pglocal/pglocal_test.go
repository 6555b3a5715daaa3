package pglocal_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore/pglocal"
	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// These tests use t.Setenv, so they cannot run in parallel.

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func selectOne(t *testing.T, ctx context.Context, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func TestDiscoverEnv(t *testing.T) {
	// Whatever server this run uses (the task passes it in DATABASE_URL).
	url := pgtest.AdminURL(t)
	t.Setenv("DATABASE_URL", url)
	srv, err := pglocal.Discover(t.Context(), pglocal.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Source != pglocal.SourceEnv || srv.URL != url {
		t.Fatalf("got %+v, want DATABASE_URL as is with source env", srv)
	}
}

func TestDiscoverEnvUnreachableHidesPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now

	t.Setenv("DATABASE_URL", fmt.Sprintf("postgres://root:s3cret-pw@127.0.0.1:%d/test?sslmode=disable", port))
	_, err = pglocal.Discover(t.Context(), pglocal.Options{Logger: testLogger(t)})
	if err == nil {
		t.Fatal("Discover succeeded against a closed port")
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("error does not name host:port: %s", msg)
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Errorf("error leaks the password: %s", msg)
	}
}

// TestDiscoverLocal checks the second rule: with a server on 127.0.0.1:5432 it is used.
// On a machine with only the binaries (nothing listens there) the probe must fail fast
// and fall through to the private cluster instead, which is checked then.
func TestDiscoverLocal(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	conn, dialErr := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
	if dialErr == nil {
		conn.Close()
		srv, err := pglocal.Discover(t.Context(), pglocal.Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Source != pglocal.SourceLocal || !strings.Contains(srv.URL, "@127.0.0.1:5432/") {
			t.Fatalf("got %+v, want the server on 127.0.0.1:5432", srv)
		}
		selectOne(t, t.Context(), srv.URL)
		return
	}
	// Nothing on 5432: the default discovery (shared .data/pg) must end up private.
	srv, err := pglocal.Discover(t.Context(), pglocal.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Source != pglocal.SourcePrivate {
		t.Fatalf("got %+v, want the private cluster when 127.0.0.1:5432 is closed", srv)
	}
	selectOne(t, t.Context(), srv.URL)
}

func TestDiscoverNoBinaries(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	_, err := pglocal.Discover(t.Context(), pglocal.Options{
		DataDir:   filepath.Join(t.TempDir(), "pg"),
		Logger:    testLogger(t),
		SkipLocal: true,
		BinDirs:   []string{},
	})
	if !errors.Is(err, pglocal.ErrNoPostgres) {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
	const want = "no PostgreSQL found: set DATABASE_URL, start a server on 127.0.0.1:5432, " +
		"or install the server binaries (Debian/Ubuntu: apt-get install postgresql)"
	if err.Error() != want {
		t.Fatalf("message = %q, want %q", err, want)
	}
}

// privateDataDir returns a data dir under a fresh /tmp directory that the postgres
// system user can reach (t.TempDir is 0700, which would keep it out when we are root).
func privateDataDir(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "atlas-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	return filepath.Join(base, "pg")
}

func TestDiscoverPrivate(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	opts := pglocal.Options{DataDir: privateDataDir(t), Logger: testLogger(t), SkipLocal: true}
	t.Cleanup(func() {
		if err := pglocal.StopPrivate(context.Background(), opts); err != nil {
			t.Errorf("cleanup StopPrivate: %v", err)
		}
	})

	// Several concurrent callers: the lock lets exactly one initdb and start happen.
	start := time.Now()
	const callers = 4
	urls := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			srv, err := pglocal.Discover(ctx, opts)
			urls[i], errs[i] = srv.URL, err
			if err == nil && srv.Source != pglocal.SourcePrivate {
				errs[i] = fmt.Errorf("source = %q, want private", srv.Source)
			}
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if urls[i] != urls[0] {
			t.Fatalf("callers got different servers: %q and %q", urls[0], urls[i])
		}
	}
	t.Logf("initdb + start with %d concurrent callers: %v", callers, time.Since(start))
	first := urls[0]
	if !strings.HasPrefix(first, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(first, "/postgres?sslmode=disable") {
		t.Fatalf("unexpected URL %q", first)
	}
	selectOne(t, ctx, first)

	// A second call reuses the running cluster.
	start = time.Now()
	srv, err := pglocal.Discover(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if srv.URL != first {
		t.Fatalf("reuse: got %q, want %q", srv.URL, first)
	}
	t.Logf("reuse of running cluster: %v", time.Since(start))

	// Stopped, it restarts on the same recorded port.
	if err := pglocal.StopPrivate(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, first); err == nil {
		conn.Close(ctx)
		t.Fatal("server still accepts connections after StopPrivate")
	}
	start = time.Now()
	if srv, err = pglocal.Discover(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if srv.URL != first {
		t.Fatalf("restart: got %q, want the recorded port again (%q)", srv.URL, first)
	}
	t.Logf("restart of stopped cluster: %v", time.Since(start))

	// If something else took the recorded port meanwhile, another port is chosen.
	if err := pglocal.StopPrivate(ctx, opts); err != nil {
		t.Fatal(err)
	}
	port := first[len("postgres://postgres@127.0.0.1:"):strings.Index(first, "/postgres?")]
	squatter, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("occupy port %s: %v", port, err)
	}
	defer squatter.Close()
	if srv, err = pglocal.Discover(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if srv.URL == first {
		t.Fatalf("started on the occupied port %s", port)
	}
	selectOne(t, ctx, srv.URL)
	again, err := pglocal.Discover(ctx, opts)
	if err != nil || again.URL != srv.URL {
		t.Fatalf("reuse after port change: %+v, %v; want %q", again, err, srv.URL)
	}

	if err := pglocal.StopPrivate(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// Stopping a stopped cluster is a no-op.
	if err := pglocal.StopPrivate(ctx, opts); err != nil {
		t.Fatalf("second StopPrivate: %v", err)
	}
}
