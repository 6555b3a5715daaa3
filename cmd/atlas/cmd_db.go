package main

import (
	"context"
	"fmt"

	"github.com/tenantatlas/ops/eventstore/pglocal"
)

func runDBURL(ctx context.Context, env *cli, args []string) error {
	log, err := parseCommand(env, "db url", args, nil)
	if err != nil {
		return err
	}
	url, err := databaseURL(ctx, env, log, true)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, url)
	return nil
}

func runDBStop(ctx context.Context, env *cli, args []string) error {
	log, err := parseCommand(env, "db stop", args, nil)
	if err != nil {
		return err
	}
	return pglocal.StopPrivate(ctx, pglocal.Options{Logger: log})
}
