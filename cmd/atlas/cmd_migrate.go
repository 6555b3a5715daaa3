package main

import (
	"context"
	"fmt"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/modules/monolith"
)

func runMigrate(ctx context.Context, env *cli, args []string) error {
	c, err := openCommand(ctx, env, "migrate", args, 2, false, nil)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	pool := c.pool
	sets := monolith.MigrationSets()
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
