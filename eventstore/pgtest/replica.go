package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tenantatlas/ops/eventstore/pglocal"
)

// replicaBinaries are the PostgreSQL programs StreamingReplica runs.
var replicaBinaries = []string{"initdb", "pg_ctl", "pg_basebackup"}

// StreamingReplica starts a private primary (initdb in a temporary directory,
// wal_level=replica, its own pg_hba.conf allowing replication from 127.0.0.1) and a hot
// standby streaming from it (pg_basebackup -R), each on a free loopback port, both
// stopped and removed when the test ends. It answers their URLs for database db, which
// it creates on the primary (the standby follows). Without the binaries (initdb,
// pg_ctl, pg_basebackup on PATH or under /usr/lib/postgresql/N/bin) the test is skipped
// with a message saying so, unless CI=true: then it fails. As root, the servers run as
// the postgres system user (initdb and postgres refuse root), as eventstore/pglocal does.
func StreamingReplica(t testing.TB, db string) (primaryURL, replicaURL string) {
	t.Helper()
	bin := replicaBinDir()
	if bin == "" {
		msg := "pgtest: no PostgreSQL server binaries (" + strings.Join(replicaBinaries, ", ") +
			") on PATH or under /usr/lib/postgresql/N/bin: the streaming replica test needs them"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: required)")
		}
		t.Skip(msg)
	}
	ctx := context.Background()
	run, err := pglocal.NewRunner(ctx)
	if err != nil {
		t.Skipf("pgtest: the replica's servers need a user to run as: %v", err)
	}
	dir, err := os.MkdirTemp("", "atlas-replica-")
	if err != nil {
		t.Fatalf("pgtest: temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("pgtest: chmod %s: %v", dir, err)
	}
	if err := run.Chown(dir); err != nil {
		t.Fatal(err)
	}
	primary, standby := filepath.Join(dir, "primary"), filepath.Join(dir, "standby")
	pPort, sPort := freePort(t), freePort(t)

	must := func(name string, args ...string) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if out, err := run.Command(cctx, filepath.Join(bin, name), args...).CombinedOutput(); err != nil {
			t.Fatalf("pgtest: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
	}
	must("initdb", "-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	conf := fmt.Sprintf("\nwal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nlisten_addresses = '127.0.0.1'\n"+
		"unix_socket_directories = '%s'\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\nmax_connections = 60\n", dir)
	appendFile(t, filepath.Join(primary, "postgresql.conf"), conf)
	appendFile(t, filepath.Join(primary, "pg_hba.conf"), "\nhost replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\n")
	start := func(data string, port int) {
		t.Helper()
		must("pg_ctl", "-D", data, "-l", data+".log", "-o", "-p "+strconv.Itoa(port), "-w", "-t", "60", "start")
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			_ = run.Command(cctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
		})
	}
	start(primary, pPort)
	primaryAdmin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pPort)
	conn, err := pgx.Connect(ctx, primaryAdmin)
	if err != nil {
		t.Fatalf("pgtest: connect to the primary: %v", err)
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	_ = conn.Close(ctx)
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", db, err)
	}
	must("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(pPort), "-U", "postgres", "-D", standby, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast")
	start(standby, sPort)
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pPort, db),
		fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", sPort, db)
}

// replicaBinDir is the first of pglocal.BinDirs holding every replicaBinaries
// program; "" when none does.
func replicaBinDir() string {
	for _, d := range pglocal.BinDirs() {
		ok := true
		for _, b := range replicaBinaries {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.Mode()&0o111 == 0 {
				ok = false
			}
		}
		if ok {
			return d
		}
	}
	return ""
}

func appendFile(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatalf("pgtest: write %s: %v", path, err)
	}
}

// freePort is a loopback port nothing listens on just now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
