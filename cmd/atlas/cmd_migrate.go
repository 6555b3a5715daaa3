package main

import (
	"context"
	"fmt"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
)

func runMigrate(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "migrate", &common)
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
	sets := migrationSets()
	if err := pgmigrate.Apply(ctx, pool, sets...); err != nil {
		return err
	}
	for _, s := range sets {
		v, err := pgmigrate.Version(ctx, pool, s)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s: version %d\n", s.Name, v)
	}
	return nil
}
