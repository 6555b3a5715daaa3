package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tenantatlas/ops/modules/monolith"
)

func runSeedDemo(ctx context.Context, env *cli, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "seed demo", &common)
	asJSON := fs.Bool("json", false, "print the workspace, tenants and logins as JSON")
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
	pool, err := openPool(ctx, url, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	seed, err := monolith.SeedDemo(ctx, newApp(pool, log))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(seed)
	}
	printLogins(env.stdout, seed)
	return nil
}

// printLogins writes the demo logins for a person to read.
func printLogins(w io.Writer, seed monolith.DemoSeed) {
	fmt.Fprintf(w, "demo workspace %s\n", seed.Workspace)
	for _, key := range []string{"owner", "operator", "readonly", "compliance", "outsider"} {
		u := seed.Users[key]
		fmt.Fprintf(w, "  %-10s %-32s password %-26s token %s\n", key, u.Email, u.Password, u.Token)
	}
}
