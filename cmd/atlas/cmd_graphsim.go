package main

import (
	"context"
	"fmt"
	"net"

	"github.com/tenantatlas/ops/modules/graph/graphsim"
)

// runGraphSim serves the Microsoft Graph simulator until SIGINT/SIGTERM.
func runGraphSim(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "graph-sim", &common)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	seed := fs.Int64("seed", 1, "seed of the generated tenant data")
	groups := fs.Int("groups", 50, "groups per tenant")
	roles := fs.Int("role-definitions", 20, "role definitions per tenant")
	policies := fs.Int("policies", 10, "policies per policy type per tenant")
	pageSize := fs.Int("page-size", 100, "largest page ($top is capped at it)")
	secret := fs.String("client-secret", graphsim.DefaultClientSecret, "the accepted client secret")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *groups < 0 || *roles < 0 || *policies < 0 || *pageSize < 0 {
		return usageError{"sizes must not be negative"}
	}
	none := func(n int) int { // 0 on the command line means none; graphsim reads 0 as "default"
		if n == 0 {
			return -1
		}
		return n
	}
	log, err := newLogger(env.stderr, common.logLevel)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("graph-sim: %w", err)
	}
	return graphsim.Serve(ctx, ln, graphsim.Config{
		Seed: *seed, Groups: none(*groups), RoleDefinitions: none(*roles), Policies: none(*policies),
		PageSize: *pageSize, ClientSecret: *secret, Logger: log,
	})
}
