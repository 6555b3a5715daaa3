// Command atlas is the one binary of TenantAtlas Ops: the web hub, the workers, the
// migrations and the operator tools. Run `atlas help` for the list of commands.
//
// Exit codes: 0 success, 1 failure (one line on stderr), 2 bad usage.
//
// It owns the command line only (flags, output, exit codes); the work is in the packages
// it calls. Layering (README.md, "Architecture: layers and imports"): floor 7, the top:
// it may import any package of the module, and nothing imports it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one `atlas` subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *cli, args []string) error
}

// commands lists every subcommand; nested ones use a space ("audit verify").
var commands = map[string]command{
	"migrate":             {"create or update every schema (idempotent)", runMigrate},
	"serve":               {"serve the hub and JSON API, run the sealer; stops cleanly on SIGTERM", runServe},
	"dev":                 {"find or start PostgreSQL, migrate, seed the demo, serve, print the URL and logins", runDev},
	"worker":              {"run the workers, the sweeper and the sealer only (scale-out)", runWorker},
	"seed demo":           {"create the demo workspace (idempotent); --json prints ids and logins", runSeedDemo},
	"audit replay":        {"rebuild a run (--run ID) or a tenant as of a time (--tenant ID --as-of RFC3339) from events alone; --json", runAuditReplay},
	"audit export":        {"every event of a tenant in global order: --tenant ID --format jsonl|csv", runAuditExport},
	"audit verify":        {"walk the hash chain; exit 1 naming the first bad global position", runAuditVerify},
	"db url":              {"print the URL of the PostgreSQL in use (finds or starts one)", runDBURL},
	"projections list":    {"each projection: name, version, checkpoint, head, lag", runProjectionsList},
	"projections status":  {"the same as list", runProjectionsList},
	"projections rebuild": {"rebuild NAME (or --all) from position 0 with a progress bar, swap atomically", runProjectionsRebuild},
	"bench seed":          {"write the benchmark data set: --tenants (1000) tenants, --runs (1,000,000) finished runs", runBenchSeed},
	"bench list":          {"time the tenant run list query on the bench data; prints p50/p95/p99", runBenchList},
	"bench http":          {"load-generate hub list pages against a running server on the bench data; req/s and p99", runBenchHTTP},
	"bench search":        {"time run list searches (context, initiator, id prefix) on the bench data; prints p50/p95/p99", runBenchSearch},
	"bench export":        {"export every bench run as CSV through the export batches; rows/s and peak heap", runBenchExport},
	"bench lag":           {"start runs at --rate for --duration and report projection lag and start-to-visible time", runBenchLag},
	"bench gate":          {"start --runs runs from --callers callers through the gate (no workers): starts/s and p99", runBenchGate},
	"bench e2e":           {"closed loop of no-op runs: gate → worker → hub read model; runs/s, start→completed/visible p99, peak RSS", runBenchE2E},
	"bench rebuild":       {"rebuild the hub projection (--repeat N) and time a raw scan of the same events plus a COPY of the same rows beside it; events/s, ratio, peak RSS", runBenchRebuild},
	"bench replay":        {"time a tenant replay through the tenant index (--scan: and the whole-log walk it replaced)", runBenchReplay},
	"db stop":             {"stop the private PostgreSQL cluster under .data/pg, if running", runDBStop},
	"legacy import":       {"import legacy run rows (JSON Lines, CONTRACT.md) as events; idempotent", runLegacyImport},
	"user disable":        {"disable the user with EMAIL: every session ends, sign-in and API tokens are refused", runUserDisable},
	"user password":       {"set the password of the user with EMAIL from one line on stdin; every session ends", runUserPassword},
	"graph-sim":           {"serve the Microsoft Graph simulator (--addr, --seed, --groups, --policies, --page-size, --control)", runGraphSim},
	"soak":                {"load + faults against fresh servers and workers it starts itself (--duration, --tenants, --concurrency, --processes); exit 1 on a violated invariant", runSoak},

	// The platform users of /system (its own block, so this table's alignment stays put).
	"platform-user create":  {"create a /system platform user: --email E [--name N] [--capability C]... [--break-glass], password on stdin; prints {\"id\",\"email\"}", runPlatformUserCreate},
	"platform-user disable": {"disable the /system platform user with EMAIL: every /system session ends, sign-in is refused", runPlatformUserDisable},

	// The platform runbooks (spec 113), for scripted use.
	"runbook preflight": {"what runbook KEY would change over --scope all|TENANT_ID: {\"total\",\"affected\",\"tenants\"} with --json", runRunbookPreflight},
	"runbook run":       {"start runbook KEY: --scope, --reason-code, --reason, --confirm KEY, --as PLATFORM_EMAIL; prints a StartOutcome (--json)", runRunbookRun},
}

// usageError marks a bad invocation (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// cli carries what every command needs from the process.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a command and maps its error to an exit code.
func run(ctx context.Context, env *cli, args []string) int {
	name, rest := lookup(args)
	if name == "" {
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			usage(env.stdout)
			return 0
		}
		fmt.Fprintf(env.stderr, "atlas: unknown command %q (run `atlas help`)\n", strings.Join(args, " "))
		return 2
	}
	err := commands[name].run(ctx, env, rest)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(env.stderr, "atlas %s: %s\n", name, ue.msg)
		return 2
	default:
		fmt.Fprintf(env.stderr, "atlas %s: %s\n", name, oneLine(err.Error()))
		return 1
	}
}

// lookup finds the longest command name that prefixes args.
func lookup(args []string) (string, []string) {
	for n := min(len(args), 2); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		if _, ok := commands[name]; ok {
			return name, args[n:]
		}
	}
	return "", args
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: atlas <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, commands[n].summary)
	}
}

// oneLine keeps a failure to one line on stderr.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.TrimSpace(s)
}
