package main

import (
	"context"
	"flag"
	"fmt"
	"net"

	"github.com/tenantatlas/ops/modules/graph/graphsim"
)

// runGraphSim serves the Microsoft Graph simulator until SIGINT/SIGTERM.
func runGraphSim(ctx context.Context, env *cli, args []string) error {
	var (
		addr, secret                      string
		seed                              int64
		groups, roles, policies, pageSize int
		control                           bool
	)
	log, err := parseCommand(env, "graph-sim", args, func(fs *flag.FlagSet) {
		fs.StringVar(&addr, "addr", "127.0.0.1:8081", "listen address")
		fs.Int64Var(&seed, "seed", 1, "seed of the generated tenant data")
		fs.IntVar(&groups, "groups", 50, "groups per tenant")
		fs.IntVar(&roles, "role-definitions", 20, "role definitions per tenant")
		fs.IntVar(&policies, "policies", 10, "policies per policy type per tenant")
		fs.IntVar(&pageSize, "page-size", 100, "largest page ($top is capped at it)")
		fs.StringVar(&secret, "client-secret", graphsim.DefaultClientSecret, "the accepted client secret")
		fs.BoolVar(&control, "control", false, "serve "+graphsim.ControlPath+" (PUT a Faults JSON body, DELETE clears): faults switched from another process")
	})
	if err != nil {
		return err
	}
	if groups < 0 || roles < 0 || policies < 0 || pageSize < 0 {
		return usageError{"sizes must not be negative"}
	}
	none := func(n int) int { // 0 on the command line means none; graphsim reads 0 as "default"
		if n == 0 {
			return -1
		}
		return n
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("graph-sim: %w", err)
	}
	return graphsim.Serve(ctx, ln, graphsim.Config{
		Seed: seed, Groups: none(groups), RoleDefinitions: none(roles), Policies: none(policies),
		PageSize: pageSize, ClientSecret: secret, Logger: log, Control: control,
	})
}
