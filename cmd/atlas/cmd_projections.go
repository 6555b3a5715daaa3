package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/projections"
)

func runProjectionsList(ctx context.Context, env *cli, args []string) error {
	c, err := openCommand(ctx, env, "projections list", args, 2, false, nil)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	st, err := newApp(c.pool, c.log).Runner.Status(ctx, monolith.Projections()...)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tCHECKPOINT\tHEAD\tLAG")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", s.Name, s.Version, s.Checkpoint, s.Head, s.Lag)
	}
	return tw.Flush()
}

func runProjectionsRebuild(ctx context.Context, env *cli, args []string) error {
	var all bool
	c, err := openCommand(ctx, env, "projections rebuild", args, 4, true, func(fs *flag.FlagSet) {
		fs.BoolVar(&all, "all", false, "rebuild every projection")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	a, rest := newApp(c.pool, c.log), c.args
	var todo []projections.Projection
	switch {
	case all && len(rest) == 0:
		todo = monolith.Projections()
	case !all && len(rest) == 1:
		for _, p := range monolith.Projections() {
			if p.Name() == rest[0] {
				todo = append(todo, p)
			}
		}
		if len(todo) == 0 {
			return usageError{fmt.Sprintf("unknown projection %q (see `atlas projections list`)", rest[0])}
		}
	default:
		return usageError{"name one projection, or --all"}
	}
	for _, p := range todo {
		res, err := a.Runner.Rebuild(ctx, p, func(pr projections.RebuildProgress) { progressBar(env.stderr, p.Name(), pr) })
		fmt.Fprintln(env.stderr)
		if err != nil {
			return err
		}
		rate := float64(res.Events) / max(res.Duration.Seconds(), 1e-9)
		fmt.Fprintf(env.stdout, "rebuilt %s v%d: %d events in %s (%.0f events/s)\n", p.Name(), p.Version(), res.Events,
			res.Duration.Round(time.Millisecond), rate)
	}
	return nil
}

// progressBar redraws the progress line of a rebuild.
func progressBar(w io.Writer, name string, p projections.RebuildProgress) {
	countBar(w, name, p.Done, p.Total, p.Elapsed, "events")
}

// countBar redraws one progress line: bar, done of total, rate and time left.
func countBar(w io.Writer, name string, done, total int64, elapsed time.Duration, unit string) {
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	rate := float64(done) / max(elapsed.Seconds(), 1e-9)
	eta := "-"
	if rate > 0 && total > done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	filled := int(frac * width)
	fmt.Fprintf(w, "\r%s [%s%s] %d/%d %s  %.0f %s/s  ETA %s ", name,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, unit, rate, unit, eta)
}
