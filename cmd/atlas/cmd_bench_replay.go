package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/replay"
)

// runBenchReplay times a tenant replay on the bench data: through the tenant index
// (replay.Tenant, what `atlas audit replay --tenant`, the hub and the API do) and, with
// --scan, the whole-log walk it replaced (replay.TenantByScan), checking both agree.
func runBenchReplay(ctx context.Context, env *cli, args []string) error {
	var tenantFlag, asOfFlag string
	var repeat int
	var scan bool
	c, err := openCommand(ctx, env, "bench replay", args, 8, false, func(fs *flag.FlagSet) {
		fs.StringVar(&tenantFlag, "tenant", "", "tenant to replay (default: the first bench tenant)")
		fs.StringVar(&asOfFlag, "as-of", "", "replay as of this RFC 3339 time (default: now)")
		fs.IntVar(&repeat, "repeat", 5, "replays through the index to time (the median is printed)")
		fs.BoolVar(&scan, "scan", false, "also time the whole-log scan once and compare")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if repeat <= 0 {
		return usageError{"--repeat must be positive"}
	}
	asOf := time.Now()
	if asOfFlag != "" {
		if asOf, err = time.Parse(time.RFC3339, asOfFlag); err != nil {
			return usageError{"--as-of must be an RFC 3339 time"}
		}
	}
	a := newApp(c.pool, c.log)
	var tenant uuid.UUID
	if tenantFlag != "" {
		if tenant, err = uuid.Parse(tenantFlag); err != nil {
			return usageError{"--tenant must be a UUID"}
		}
	} else {
		_, tenants, err := benchUser(ctx, a)
		if err != nil {
			return err
		}
		if len(tenants) == 0 {
			return fmt.Errorf("the bench workspace has no tenants")
		}
		tenant = tenants[0]
	}
	head, err := a.Store.Head(ctx)
	if err != nil {
		return err
	}
	var took []time.Duration
	var got replay.TenantReplay
	for range repeat {
		start := time.Now()
		if got, err = replay.Tenant(ctx, a.Store, tenant, asOf, nil); err != nil {
			return err
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	fmt.Fprintf(env.stdout, "replay: log of %d events; tenant %s: %d events, %d runs\n", head, tenant, got.Events, len(got.Runs))
	fmt.Fprintf(env.stdout, "replay by tenant index: median %s, max %s (%d replays)\n",
		took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), repeat)
	if !scan {
		return nil
	}
	start := time.Now()
	full, err := replay.TenantByScan(ctx, a.Store, tenant, asOf, func(read int64) {
		countBar(env.stderr, "scan", read, head, time.Since(start), "events")
	})
	fmt.Fprintln(env.stderr)
	if err != nil {
		return err
	}
	tookScan := time.Since(start)
	fmt.Fprintf(env.stdout, "replay by whole-log scan: %s (%d events read)\n", tookScan.Round(time.Millisecond), head)
	if full.Events != got.Events || len(full.Runs) != len(got.Runs) {
		return fmt.Errorf("the index and the scan disagree: %d/%d events, %d/%d runs", got.Events, full.Events, len(got.Runs), len(full.Runs))
	}
	fmt.Fprintln(env.stdout, "index and scan agree")
	return nil
}
