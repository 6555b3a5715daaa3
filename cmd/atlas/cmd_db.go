package main

import (
	"context"
	"fmt"

	"github.com/tenantatlas/ops/eventstore/pglocal"
)

func runDBURL(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "db url", &common)
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
	fmt.Fprintln(env.stdout, url)
	return nil
}

func runDBStop(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "db stop", &common)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(env.stderr, common.logLevel)
	if err != nil {
		return err
	}
	return pglocal.StopPrivate(ctx, pglocal.Options{Logger: log})
}
