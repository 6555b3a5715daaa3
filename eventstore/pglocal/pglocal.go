// Package pglocal finds a PostgreSQL server for development and tests, or starts a
// private one.
//
// Discover tries, in order: the DATABASE_URL environment variable, a trust-auth server
// on 127.0.0.1:5432, and finally a private cluster kept under the module's .data/pg
// directory, created with initdb and started with pg_ctl on first use. The private
// cluster keeps running after the process exits and is reused by the next run; call
// StopPrivate to stop it.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0, a leaf: it imports
// nothing of the project and must never import modules/..., projections, web or cmd/.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Source values reported in Server.Source.
const (
	// SourceEnv means the server came from the DATABASE_URL environment variable.
	SourceEnv = "env"
	// SourceLocal means a server already listening on 127.0.0.1:5432 was used.
	SourceLocal = "local"
	// SourcePrivate means the private cluster under Options.DataDir was used.
	SourcePrivate = "private"
)

// ErrNoPostgres is returned when no server is reachable and no server binaries can be
// found to start a private one; its message is one line saying what to install.
var ErrNoPostgres = errors.New("no PostgreSQL found: set DATABASE_URL, start a server on 127.0.0.1:5432, " +
	"or install the server binaries (Debian/Ubuntu: apt-get install postgresql)")

const (
	envTimeout   = 5 * time.Second
	localTimeout = 2 * time.Second
	localAddr    = "127.0.0.1:5432"
)

// Server describes a reachable PostgreSQL server.
type Server struct {
	// URL is an admin DSN, e.g. postgres://user@host:port/db?sslmode=disable.
	URL string
	// Source says where the server came from: SourceEnv, SourceLocal or SourcePrivate.
	Source string
}

// Options tunes Discover and StopPrivate; the zero value is ready to use.
type Options struct {
	// DataDir is the private cluster's data directory; the default is
	// <module root>/.data/pg, the module root being the nearest directory at or above
	// the working directory that contains go.mod. The lock, port and log files and the
	// socket directory live next to it (pg.lock, pg.port, pg.log, pgsock for the default).
	DataDir string
	// Logger receives one Info record naming the chosen source; nil discards.
	Logger *slog.Logger
	// SkipLocal skips the 127.0.0.1:5432 probe, so that tests can force the private path.
	SkipLocal bool
	// BinDirs, when non-nil, replaces the default search for initdb and pg_ctl (PATH,
	// then the highest /usr/lib/postgresql/<N>/bin) with these directories; an empty
	// non-nil slice finds nothing, which tests use to check ErrNoPostgres.
	BinDirs []string
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

// Discover returns a reachable server: DATABASE_URL if set, else a trust-auth server on
// 127.0.0.1:5432, else the private cluster under opts.DataDir, created and started as
// needed. It returns ErrNoPostgres when none of these is possible.
func Discover(ctx context.Context, opts Options) (Server, error) {
	log := opts.logger()

	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		addr, err := ping(ctx, dsn, envTimeout)
		if err != nil {
			return Server{}, fmt.Errorf("pglocal: DATABASE_URL server %s is not reachable: %w", addr, err)
		}
		log.Info("postgres: using DATABASE_URL", "source", SourceEnv, "addr", addr)
		return Server{URL: dsn, Source: SourceEnv}, nil
	}

	if !opts.SkipLocal {
		if dsn, ok := probeLocal(ctx, log); ok {
			log.Info("postgres: using local server", "source", SourceLocal, "addr", localAddr)
			return Server{URL: dsn, Source: SourceLocal}, nil
		}
	}

	srv, err := discoverPrivate(ctx, opts, log)
	if err != nil {
		return Server{}, err
	}
	log.Info("postgres: using private cluster", "source", SourcePrivate, "url", srv.URL)
	return srv, nil
}

// probeLocal tries 127.0.0.1:5432 with users root and postgres and databases test and
// postgres, without a password, and returns the first DSN that connects.
func probeLocal(ctx context.Context, log *slog.Logger) (string, bool) {
	d := net.Dialer{Timeout: localTimeout}
	c, err := d.DialContext(ctx, "tcp", localAddr)
	if err != nil {
		log.Debug("postgres: nothing listening on local port", "addr", localAddr, "err", err)
		return "", false
	}
	_ = c.Close()
	for _, user := range []string{"root", "postgres"} {
		for _, db := range []string{"test", "postgres"} {
			dsn := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", user, localAddr, db)
			if _, err := ping(ctx, dsn, localTimeout); err != nil {
				log.Debug("postgres: local probe failed", "user", user, "database", db, "err", err)
				continue
			}
			return dsn, true
		}
	}
	return "", false
}

// ping connects to dsn within timeout and runs SELECT 1. It returns the host:port it
// tried, which is safe to show: it never contains the password.
func ping(ctx context.Context, dsn string, timeout time.Duration) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts the password in parse errors.
		return "(unparsable DSN)", fmt.Errorf("parse DSN: %w", err)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	cfg.ConnectTimeout = timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return addr, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return addr, fmt.Errorf("select 1: %w", err)
	}
	return addr, nil
}

// moduleRoot returns the nearest directory at or above the working directory that
// contains go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("pglocal: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pglocal: no go.mod at or above the working directory; set Options.DataDir")
		}
		dir = parent
	}
}
