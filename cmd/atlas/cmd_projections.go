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

// projectionsApp opens the database and wires the app for a projections command.
func projectionsApp(ctx context.Context, env *cli, name string, args []string, extra func(*commonFlagSet)) (*monolith.App, func(), []string, error) {
	var common commonFlags
	fs := newFlagSet(env, name, &common)
	if extra != nil {
		extra(&commonFlagSet{fs})
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, usageError{err.Error()}
	}
	log, err := newLogger(env.stderr, common.logLevel)
	if err != nil {
		return nil, nil, nil, err
	}
	url, err := databaseURL(ctx, env, log, false)
	if err != nil {
		return nil, nil, nil, err
	}
	pool, err := openPool(ctx, url, 4)
	if err != nil {
		return nil, nil, nil, err
	}
	return newApp(pool, log), pool.Close, fs.Args(), nil
}

func runProjectionsList(ctx context.Context, env *cli, args []string) error {
	a, closeFn, rest, err := projectionsApp(ctx, env, "projections list", args, nil)
	if err != nil {
		return err
	}
	defer closeFn()
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	st, err := a.Runner.Status(ctx, monolith.Projections()...)
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

// commonFlagSet lets a command add its own flags next to the common ones.
type commonFlagSet struct{ *flag.FlagSet }

func runProjectionsRebuild(ctx context.Context, env *cli, args []string) error {
	var all bool
	a, closeFn, rest, err := projectionsApp(ctx, env, "projections rebuild", args, func(fs *commonFlagSet) {
		fs.BoolVar(&all, "all", false, "rebuild every projection")
	})
	if err != nil {
		return err
	}
	defer closeFn()
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

// progressBar redraws one line: bar, events done of total, rate and time left.
func progressBar(w io.Writer, name string, p projections.RebuildProgress) {
	const width = 30
	frac := 1.0
	if p.Total > 0 {
		frac = min(1, float64(p.Done)/float64(p.Total))
	}
	rate := float64(p.Done) / max(p.Elapsed.Seconds(), 1e-9)
	eta := "-"
	if rate > 0 && p.Total > p.Done {
		eta = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	filled := int(frac * width)
	fmt.Fprintf(w, "\r%s [%s%s] %d/%d events  %.0f events/s  ETA %s ", name,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.Done, p.Total, rate, eta)
}
