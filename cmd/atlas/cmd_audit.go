package main

import (
	"context"
	"fmt"

	"github.com/tenantatlas/ops/eventstore"
)

func runAuditVerify(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "audit verify", &common)
	quiet := fs.Bool("quiet", false, "print nothing but failures")
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
	pool, err := openPool(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := eventstore.New(pool, eventstore.Options{Registry: registry(), Logger: log})
	// Seal whatever has committed, so the walk covers the whole log.
	if _, err := store.Seal(ctx); err != nil {
		return err
	}
	res, err := store.Verify(ctx, nil)
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("hash chain broken at global position %d: %s", res.FirstBad, res.Reason)
	}
	if !*quiet {
		fmt.Fprintf(env.stdout, "ok: %d events verified, head position %d\n", res.Checked, res.Head)
	}
	return nil
}
