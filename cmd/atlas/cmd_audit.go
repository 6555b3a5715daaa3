package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/monolith"
)

func runAuditVerify(ctx context.Context, env *cli, args []string) error {
	var quiet bool
	c, err := openCommand(ctx, env, "audit verify", args, 2, false, func(fs *flag.FlagSet) {
		fs.BoolVar(&quiet, "quiet", false, "print nothing but failures")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	store := eventstore.New(c.pool, eventstore.Options{Registry: monolith.Registry(), Logger: c.log})
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
	if !quiet {
		fmt.Fprintf(env.stdout, "ok: %d events verified, head position %d\n", res.Checked, res.Head)
	}
	return nil
}
