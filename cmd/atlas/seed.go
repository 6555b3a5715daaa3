package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/tenantatlas/ops/modules/monolith"
)

func runSeedDemo(ctx context.Context, env *cli, args []string) error {
	var asJSON bool
	c, err := openCommand(ctx, env, "seed demo", args, 4, false, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the workspace, tenants and logins as JSON")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	seed, err := monolith.SeedDemo(ctx, newApp(c.pool, c.log))
	if err != nil {
		return err
	}
	if asJSON {
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
	fmt.Fprintln(w, "platform users (/system/login)")
	fmt.Fprintf(w, "  %-16s %-34s password %s (every platform capability)\n", "platform", seed.Platform.Email, seed.Platform.Password)
	fmt.Fprintf(w, "  %-16s %-34s password %s (platform.ops.view)\n", "platform_viewer", seed.PlatformViewer.Email, seed.PlatformViewer.Password)
}
