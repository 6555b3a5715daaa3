package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/historygen"
	"github.com/tenantatlas/ops/projections"
)

// searchVariants are the searches `bench search` samples (the q of the hub's run lists).
var searchVariants = []string{"schedule (workspace)", "policyType (tenant)", "policyType (workspace)",
	"initiator (tenant)", "id prefix (workspace)"}

// runBenchSearch times run list searches (RunReader.List with a parsed q, the read the API
// and the hub make) on random bench tenants, and prints percentiles per variant and overall.
func runBenchSearch(ctx context.Context, env *cli, args []string) error {
	var samples int
	br, err := openBenchRead(ctx, env, "bench search", args, 8, func(fs *flag.FlagSet) {
		fs.IntVar(&samples, "samples", 2000, "searches to time")
	})
	if err != nil {
		return err
	}
	defer br.c.pool.Close()
	c, a, tenants, member := br.c, br.a, br.tenants, br.member
	// Run ids to search prefixes of: a sample of the read model's pages.
	rows, err := c.pool.Query(ctx, `SELECT run_id FROM rm_runs ORDER BY random() LIMIT 1000`)
	if err != nil {
		return err
	}
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		return fmt.Errorf("bench search: no runs: run atlas bench seed first")
	}
	policyTypes := []string{"deviceConfiguration", "deviceCompliancePolicy", "settingsCatalogPolicy",
		"appProtectionPolicy", "conditionalAccessPolicy", "windowsUpdateRing"}
	r := rand.New(rand.NewPCG(13, 13))
	all := &latencies{}
	per := map[string]*latencies{}
	found := map[string]int{}
	for _, v := range searchVariants {
		per[v] = &latencies{}
	}
	for i := range samples + samples/10 {
		f := projections.RunFilter{TenantIDs: tenants, Workspaces: member, Limit: 50}
		tenant := tenants[r.IntN(len(tenants))]
		v := searchVariants[r.IntN(len(searchVariants))]
		var q string
		switch v {
		case "schedule (workspace)":
			q = "schedule:" + historygen.HistoricScheduleID(tenant, r.IntN(3)).String()
		case "policyType (tenant)":
			f.Tenant, q = tenant, "policyType:"+policyTypes[r.IntN(len(policyTypes))]
		case "policyType (workspace)":
			q = "policyType:" + policyTypes[r.IntN(len(policyTypes))]
		case "initiator (tenant)":
			f.Tenant, q = tenant, `initiator:"Bench Owner"`
		case "id prefix (workspace)":
			q = ids[r.IntN(len(ids))].String()[:13]
		}
		if f.Search, err = projections.ParseRunSearch(q); err != nil {
			return err
		}
		t0 := time.Now()
		list, _, err := a.Runs.List(ctx, f)
		if err != nil {
			return fmt.Errorf("bench search %q: %w", q, err)
		}
		if i < samples/10 {
			continue // warm-up
		}
		d := time.Since(t0)
		all.add(d)
		per[v].add(d)
		found[v] += len(list)
	}
	for _, v := range searchVariants {
		n := max(len(per[v].d), 1)
		fmt.Fprintf(env.stdout, "search %-24s %s (%.1f runs a page)\n", v, per[v], float64(found[v])/float64(n))
	}
	fmt.Fprintf(env.stdout, "searches (all)                  %s\n", all)
	return nil
}

// runBenchExport exports every run of the bench workspace as CSV to nowhere through
// RunReader.Export (the batches GET /api/v1/operations.csv reads) and prints rows/s and
// the heap's peak while it ran, sampled after each batch.
func runBenchExport(ctx context.Context, env *cli, args []string) error {
	var batch int
	br, err := openBenchRead(ctx, env, "bench export", args, 4, func(fs *flag.FlagSet) {
		fs.IntVar(&batch, "batch", projections.ExportBatch, "runs per query")
	})
	if err != nil {
		return err
	}
	defer br.c.pool.Close()
	a, tenants, member := br.a, br.tenants, br.member
	w := csv.NewWriter(io.Discard)
	var rows int64
	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	start := time.Now()
	err = a.Runs.Export(ctx, projections.RunFilter{TenantIDs: tenants, Workspaces: member}, batch, func(runs []projections.RunSummary) error {
		for _, r := range runs {
			if err := w.Write([]string{r.ID.String(), r.Type, r.Status, r.Outcome, r.Bucket, r.Initiator,
				r.QueuedAt.UTC().Format(time.RFC3339Nano)}); err != nil {
				return err
			}
		}
		rows += int64(len(runs))
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		return nil
	})
	if err != nil {
		return err
	}
	w.Flush()
	took := time.Since(start)
	fmt.Fprintf(env.stdout, "export %d runs in %s: %.0f rows/s, batches of %d, heap in use %.1f MiB before, peak %.1f MiB\n",
		rows, took.Round(time.Millisecond), float64(rows)/took.Seconds(), batch, float64(before)/(1<<20), float64(peak)/(1<<20))
	return nil
}
