// Package pgtest gives each test package its own fresh PostgreSQL database.
//
// The database is created on the first call to DB or URL, on the server found by
// pglocal.Discover (DATABASE_URL, a local server, or a private cluster), migrated by the
// functions registered with Setup, and dropped by Main when the package's tests end:
//
//	func TestMain(m *testing.M) {
//		pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
//			return pgmigrate.Apply(ctx, pool, eventstore.Migrations)
//		})
//		pgtest.Main(m)
//	}
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		pool := pgtest.DB(t)
//		...
//	}
//
// Tests never skip for lack of a database: they fail with a message saying what to set
// up.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0: it imports only
// pglocal and eventstore (for the pool setup the product uses, eventstore.ConfigurePool)
// and must never import modules/..., projections, web or cmd/; a module's tests
// register their migrations with Setup instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pglocal"
)

const (
	// MaxConns is the pool size of DB; pgxpool queues acquires beyond it.
	MaxConns = 32
	// namePrefix starts the name of every database this package creates.
	namePrefix = "atlas_test_"
	// staleAfter is the age beyond which a leftover test database (from a killed run)
	// is dropped when another package creates its own.
	staleAfter = 6 * time.Hour
	// setupTimeout bounds discovery (which may initdb a private cluster), creation and
	// the Setup functions.
	setupTimeout = 3 * time.Minute
	// maxPkgLen keeps names under PostgreSQL's 63-byte identifier limit.
	maxPkgLen = 30
)

var (
	setupMu sync.Mutex
	setups  []func(ctx context.Context, pool *pgxpool.Pool) error
	started bool // DB creation began; Setup may no longer be called

	adminOnce sync.Once
	adminURL  string
	adminErr  error

	dbOnce sync.Once
	dbMu   sync.Mutex // guards the fields below, which Main reads after the tests
	dbName string     // set as soon as the database exists, so Main can drop it
	dbURL  string
	dbPool *pgxpool.Pool
	dbErr  error
)

// Setup registers a function run once right after the package database is created,
// before any test uses it (used to apply migrations); functions run in registration
// order. Call it from TestMain before Main, or from an init function in the test package.
func Setup(fn func(ctx context.Context, pool *pgxpool.Pool) error) {
	setupMu.Lock()
	defer setupMu.Unlock()
	if started {
		panic("pgtest: Setup called after the package database was created; call it from TestMain or init")
	}
	setups = append(setups, fn)
}

// Main runs the tests, then closes the pool and drops the package database; use it as
// func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
	os.Exit(code)
}

// AdminURL returns the admin DSN of the server (for tests that need to create extra
// databases or open raw connections); it fails the test if there is no server.
func AdminURL(t testing.TB) string {
	t.Helper()
	u, err := discoverAdmin()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// URL returns the DSN of this package's test database (for tests that open their own
// separate connections, e.g. pgx.Connect).
func URL(t testing.TB) string {
	t.Helper()
	ensureDB(t)
	dbMu.Lock()
	defer dbMu.Unlock()
	return dbURL
}

// DB returns a pool on this test package's own fresh database, created on first call
// and shared by all tests of the package. It never skips: without PostgreSQL the test
// fails with a message saying what to set up.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ensureDB(t)
	dbMu.Lock()
	defer dbMu.Unlock()
	return dbPool
}

func ensureDB(t testing.TB) {
	t.Helper()
	dbOnce.Do(func() {
		err := createDB()
		dbMu.Lock()
		dbErr = err
		dbMu.Unlock()
	})
	dbMu.Lock()
	err := dbErr
	dbMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func discoverAdmin() (string, error) {
	adminOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		srv, err := pglocal.Discover(ctx, pglocal.Options{Logger: logger()})
		adminURL, adminErr = srv.URL, err
	})
	return adminURL, adminErr
}

// createDB creates the package database, opens its pool and runs the Setup functions.
func createDB() error {
	admin, err := discoverAdmin()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pool, err := newDatabase(ctx, admin, MaxConns, func(name, url string) {
		dbMu.Lock()
		dbName, dbURL = name, url
		dbMu.Unlock()
	})
	dbMu.Lock()
	dbPool = pool // set even on a setup failure, so teardown closes it
	dbMu.Unlock()
	return err
}

// newDatabase creates a database named after the test package from template0, calls
// created as soon as it exists (so the caller can drop it whatever happens next), opens
// a pool of maxConns on it and runs the Setup functions. Leftover databases of killed
// runs are swept first. The pool is returned even when a setup function fails.
func newDatabase(ctx context.Context, admin string, maxConns int32, created func(name, url string)) (*pgxpool.Pool, error) {
	setupMu.Lock()
	started = true
	fns := append([]func(context.Context, *pgxpool.Pool) error(nil), setups...)
	setupMu.Unlock()

	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	name, err := newName(filepath.Base(wd), time.Now())
	if err != nil {
		return nil, err
	}
	url, err := withDatabase(admin, name)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to admin database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sweep(ctx, conn, time.Now())
	// template0 never has connections, so many packages can copy it at once.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	created(name, url)

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse test database DSN: %w", err)
	}
	cfg.MaxConns = maxConns
	eventstore.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool on %s: %w", name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		return pool, fmt.Errorf("ping %s: %w", name, err)
	}
	for i, fn := range fns {
		if err := fn(ctx, pool); err != nil {
			return pool, fmt.Errorf("setup function %d of %d on %s: %w", i+1, len(fns), name, err)
		}
	}
	return pool, nil
}

// teardown closes the pool and drops the package database, if one was created.
func teardown() error {
	dbMu.Lock()
	name, pool := dbName, dbPool
	dbMu.Unlock()
	if pool != nil {
		// Close waits for every acquired connection to be released; do not let a test
		// that leaked one hang the run. DROP ... WITH (FORCE) ends them anyway.
		closed := make(chan struct{})
		go func() { pool.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			fmt.Fprintln(os.Stderr, "pgtest: pool did not close within 5s: a test did not release a connection")
		}
	}
	if name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to drop %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// newName returns atlas_test_<sanitized pkg>_<unix seconds>_<8 random hex digits>.
func newName(pkg string, now time.Time) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return namePrefix + sanitize(pkg) + "_" + strconv.FormatInt(now.Unix(), 10) + "_" + hex.EncodeToString(b[:]), nil
}

// sanitize lower-cases pkg and keeps only [a-z0-9_], replacing anything else with _,
// cut to maxPkgLen bytes; an empty result becomes "pkg".
func sanitize(pkg string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(pkg) {
		if sb.Len() == maxPkgLen {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	if sb.Len() == 0 {
		return "pkg"
	}
	return sb.String()
}

var staleName = regexp.MustCompile(`^` + namePrefix + `[a-z0-9_]*_([0-9]{9,})_[0-9a-f]{8}$`)

// createdAt returns the creation time encoded in a test database name.
func createdAt(name string) (time.Time, bool) {
	m := staleName.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0), true
}

// sweep drops test databases older than staleAfter, leftovers of killed runs. It is
// best effort: concurrent sweeps from other packages may race it, so errors are ignored.
func sweep(ctx context.Context, conn *pgx.Conn, now time.Time) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", namePrefix)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		if created, ok := createdAt(name); ok && now.Sub(created) > staleAfter {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	}
}

// withDatabase returns dsn with its database replaced by db; dsn is a postgres:// URL
// or keyword/value settings.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// url.Error would repeat the DSN, password included.
			return "", errors.New("parse admin DSN: invalid URL")
		}
		u.Path, u.RawPath = "/"+db, ""
		return u.String(), nil
	}
	// In keyword/value form the last setting wins.
	return dsn + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(db) + "'", nil
}

// FreshMaxConns is the pool size of a Fresh database.
const FreshMaxConns = 16

// Fresh returns a pool on a database of the calling test's own, created now with every
// Setup function applied and dropped when the test ends. Use it for tests that look at
// a whole table or the whole log (and so cannot share the package database with tests
// running in parallel), or that damage the data on purpose.
func Fresh(t testing.TB) *pgxpool.Pool {
	t.Helper()
	admin := AdminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pool, err := newDatabase(ctx, admin, FreshMaxConns, func(name, _ string) {
		t.Cleanup(func() { dropDatabase(t, admin, name) })
	})
	if pool != nil {
		t.Cleanup(pool.Close) // runs before the drop registered above
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return pool
}

// dropDatabase drops a Fresh database at the end of its test.
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
	}
}
