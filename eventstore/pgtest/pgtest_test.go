package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var setupRuns [2]atomic.Int32

func TestMain(m *testing.M) {
	Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
		setupRuns[0].Add(1)
		_, err := pool.Exec(ctx, "CREATE TABLE setup_marker (step int PRIMARY KEY)")
		return err
	})
	Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
		setupRuns[1].Add(1)
		// Runs after the first: the table exists.
		_, err := pool.Exec(ctx, "INSERT INTO setup_marker VALUES (2)")
		return err
	})
	Main(m)
}

func currentDatabase(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) string {
	t.Helper()
	var name string
	if err := q.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestDB(t *testing.T) {
	t.Parallel()
	pool := DB(t)
	if again := DB(t); again != pool {
		t.Fatal("second DB call returned a different pool")
	}
	name := currentDatabase(t, pool)
	if !strings.HasPrefix(name, "atlas_test_pgtest_") {
		t.Fatalf("database %q does not start with atlas_test_pgtest_", name)
	}
	if _, ok := createdAt(name); !ok {
		t.Fatalf("database %q does not carry its creation time", name)
	}
	if got := pool.Config().MaxConns; got != MaxConns {
		t.Fatalf("MaxConns = %d, want %d", got, MaxConns)
	}
	var step int
	if err := pool.QueryRow(t.Context(), "SELECT step FROM setup_marker").Scan(&step); err != nil || step != 2 {
		t.Fatalf("setup_marker step = %d, %v; want 2", step, err)
	}
	for i := range setupRuns {
		if n := setupRuns[i].Load(); n != 1 {
			t.Fatalf("setup function %d ran %d times, want 1", i+1, n)
		}
	}
}

func TestDBConcurrentUse(t *testing.T) {
	t.Parallel()
	pool := DB(t)
	errs := make(chan error, 100)
	for range 100 {
		go func() {
			var one int
			errs <- pool.QueryRow(t.Context(), "SELECT 1 FROM pg_sleep(0.01)").Scan(&one)
		}()
	}
	for range 100 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestURLAndAdminURL(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if got, want := currentDatabase(t, conn), currentDatabase(t, DB(t)); got != want {
		t.Fatalf("URL connects to %q, DB to %q", got, want)
	}

	admin, err := pgx.Connect(t.Context(), AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if name := currentDatabase(t, admin); strings.HasPrefix(name, namePrefix) {
		t.Fatalf("AdminURL points at a test database %q", name)
	}
}

func TestSweepDropsOnlyStaleDatabases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the cleanups that drop the databases.
	t.Cleanup(func() { admin.Close(context.Background()) })

	now := time.Now()
	stale, err := newName("sweep", now.Add(-staleAfter-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := newName("sweep", now.Add(-staleAfter+time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stale, fresh} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		})
	}

	sweep(ctx, admin, now)

	exists := func(name string) bool {
		var ok bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if exists(stale) {
		t.Errorf("stale database %s survived the sweep", stale)
	}
	if !exists(fresh) {
		t.Errorf("fresh database %s was swept", fresh)
	}
	if !exists(currentDatabase(t, DB(t))) {
		t.Errorf("the sweep dropped this package's database")
	}
}

// TestMainDropsDatabase runs this test binary again, in a child that reports its
// database name, and checks that Main dropped the database when the child exited.
func TestMainDropsDatabase(t *testing.T) {
	if os.Getenv("PGTEST_CHILD_OUT") != "" {
		t.Skip("already the child")
	}
	t.Parallel()
	out := filepath.Join(t.TempDir(), "name")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildReportsName$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	name := string(b)
	if !strings.HasPrefix(name, namePrefix) {
		t.Fatalf("child reported %q", name)
	}

	admin, err := pgx.Connect(t.Context(), AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var exists bool
	if err := admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after the child's Main returned", name)
	}
}

// TestChildReportsName is the child half of TestMainDropsDatabase.
func TestChildReportsName(t *testing.T) {
	out := os.Getenv("PGTEST_CHILD_OUT")
	if out == "" {
		t.Skip("only runs as the child of TestMainDropsDatabase")
	}
	name := currentDatabase(t, DB(t))
	if err := os.WriteFile(out, []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"pgtest", "pgtest"},
		{"Event-Store.v2", "event_store_v2"},
		{"", "pkg"},
		{"ünïcode", "_n_code"},
		{strings.Repeat("a", 40), strings.Repeat("a", maxPkgLen)},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewNameFitsIdentifierLimit(t *testing.T) {
	t.Parallel()
	name, err := newName(strings.Repeat("x", 100), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(name) > 63 {
		t.Fatalf("%q is %d bytes, over PostgreSQL's 63", name, len(name))
	}
	if _, ok := createdAt(name); !ok {
		t.Fatalf("createdAt cannot read %q", name)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ dsn, want string }{
		{"postgres://root@127.0.0.1:5432/test?sslmode=disable", "postgres://root@127.0.0.1:5432/atlas_test_x?sslmode=disable"},
		{"postgresql://u:p%40ss@h/db", "postgresql://u:p%40ss@h/atlas_test_x"},
		{"postgres://u@h:1", "postgres://u@h:1/atlas_test_x"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db dbname='atlas_test_x'"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.dsn, "atlas_test_x")
		if err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
			continue
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil || cfg.Database != "atlas_test_x" {
			t.Errorf("withDatabase(%q) parses to database %q, %v", tt.dsn, cfg.Database, err)
		}
	}
}
