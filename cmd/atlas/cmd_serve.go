package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/web"
)

func defaultAddr(env *cli) string {
	if a := env.getenv("ATLAS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:8080"
}

func runServe(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "serve", &common)
	addr := fs.String("addr", defaultAddr(env), "listen address (env ATLAS_ADDR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(env.stderr, common.logLevel)
	if err != nil {
		return err
	}
	url, err := databaseURL(ctx, env, log, false)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, url, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	return serve(ctx, env, log, pool, *addr, nil)
}

func runDev(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "dev", &common)
	addr := fs.String("addr", defaultAddr(env), "listen address (env ATLAS_ADDR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(env.stderr, common.logLevel)
	if err != nil {
		return err
	}
	url, err := databaseURL(ctx, env, log, true)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, url, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgmigrate.Apply(ctx, pool, migrationSets()...); err != nil {
		return err
	}
	return serve(ctx, env, log, pool, *addr, func(listenAddr string) {
		fmt.Fprintf(env.stdout, "TenantAtlas Ops is running\n  hub:      http://%s/\n  health:   http://%s/healthz\n  database: %s\n  (demo workspace and logins arrive with the tenancy module)\nPress Ctrl+C to stop.\n",
			listenAddr, listenAddr, redact(url))
	})
}

// serve runs the HTTP server and the sealer until ctx ends. ready, if set, is called
// with the bound address once the listener is up.
func serve(ctx context.Context, env *cli, log *slog.Logger, pool *pgxpool.Pool, addr string, ready func(string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	store := eventstore.New(pool, eventstore.Options{Registry: registry(), Logger: log})
	srv := web.New(web.Deps{Logger: log, Database: pool})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = store.RunSealer(ctx, 50*time.Millisecond) })

	errc := make(chan error, 1)
	go func() { errc <- srv.App().Listener(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		serveErr = srv.App().ShutdownWithContext(shutdownCtx)
		cancelShutdown()
	}
	cancel()
	wg.Wait()
	log.Info("stopped")
	return serveErr
}

// redact hides the password of a database URL.
func redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "(invalid URL)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}
