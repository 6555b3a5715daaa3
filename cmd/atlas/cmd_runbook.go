package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/runbooks"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// runbookFlags are the flags of `atlas runbook preflight|run`.
type runbookFlags struct {
	common                      commonFlags
	scope, workspace            string
	reasonCode, reason, confirm string
	as                          string
	json                        bool
}

// parseRunbookArgs reads `KEY [flags]` (the key may also follow the flags).
func parseRunbookArgs(env *cli, name string, args []string, run bool) (string, runbookFlags, error) {
	var f runbookFlags
	fs := newFlagSet(env, name, &f.common)
	fs.StringVar(&f.scope, "scope", "", `"all" (every tenant of the workspace) or a tenant id (required)`)
	fs.StringVar(&f.workspace, "workspace", "", `the workspace of --scope all (default: the one workspace with tenants)`)
	fs.BoolVar(&f.json, "json", false, "print JSON")
	if run {
		fs.StringVar(&f.reasonCode, "reason-code", "", "DATA_REPAIR, INCIDENT, SUPPORT or SECURITY (required for all tenants and break-glass users)")
		fs.StringVar(&f.reason, "reason", "", "the reason's text")
		fs.StringVar(&f.confirm, "confirm", "", "the runbook's key again, to confirm (required)")
		fs.StringVar(&f.as, "as", "", "the platform user's email (required)")
	}
	key := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		key, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", f, usageError{err.Error()}
	}
	if key == "" && fs.NArg() > 0 { // the key after the flags, maybe more flags after it
		key = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return "", f, usageError{err.Error()}
		}
	}
	if fs.NArg() > 0 {
		return "", f, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	usage := "usage: atlas runbook preflight KEY --scope all|TENANT_ID [--workspace ID] [--json]"
	if run {
		usage = "usage: atlas runbook run KEY --scope all|TENANT_ID [--workspace ID] --reason-code C --reason TEXT --confirm KEY --as PLATFORM_EMAIL [--json]"
	}
	if key == "" || strings.TrimSpace(f.scope) == "" || (run && (strings.TrimSpace(f.as) == "" || f.confirm == "")) {
		return "", f, usageError{usage}
	}
	if _, err := runbooks.Lookup(key); err != nil {
		return "", f, usageError{fmt.Sprintf("unknown runbook %q (known: %s)", key, runbookKeys())}
	}
	return key, f, nil
}

func runbookKeys() string {
	var keys []string
	for _, r := range runbooks.Catalog() {
		keys = append(keys, r.Key)
	}
	return strings.Join(keys, ", ")
}

// scopeOf reads --scope and --workspace.
func (f runbookFlags) scopeOf() (runbooks.Scope, error) {
	ws := uuid.Nil
	if f.workspace != "" {
		id, err := uuid.Parse(f.workspace)
		if err != nil {
			return runbooks.Scope{}, usageError{"--workspace must be a workspace id"}
		}
		ws = id
	}
	sc, err := runbooks.ParseScope(f.scope, ws)
	if err != nil {
		return runbooks.Scope{}, usageError{`--scope must be "all" or a tenant id`}
	}
	return sc, nil
}

// runbookError maps the runbooks module's refusals: bad input exits 2, the rest 1.
func runbookError(err error) error {
	switch {
	case errors.Is(err, runbooks.ErrInvalid):
		return usageError{strings.TrimPrefix(err.Error(), runbooks.ErrInvalid.Error()+": ")}
	case errors.Is(err, runbooks.ErrForbidden):
		return errors.New("the platform user's capabilities do not allow this runbook")
	}
	return err
}

// runRunbookPreflight prints what a runbook would change: {"total","affected","tenants"}.
func runRunbookPreflight(ctx context.Context, env *cli, args []string) error {
	rc, err := openRunbook(ctx, env, "runbook preflight", args, false)
	if err != nil {
		return err
	}
	defer rc.done()
	key, f, sc, a := rc.key, rc.f, rc.sc, rc.a
	pf, _, err := a.Runbooks.Preflight(ctx, key, sc, runbooks.Origin{Source: runbooks.SourceCLI})
	if err != nil {
		return runbookError(err)
	}
	if f.json {
		return json.NewEncoder(env.stdout).Encode(pf)
	}
	_, err = fmt.Fprintf(env.stdout, "%s: %d findings scanned, %d would change, %d tenants\n", key, pf.Total, pf.Affected, pf.Tenants)
	return err
}

// runRunbookRun starts a runbook through the start gate as the platform user --as and
// prints the StartOutcome; a start that was not accepted or deduped (scope busy,
// blocked) exits 1 after printing it.
func runRunbookRun(ctx context.Context, env *cli, args []string) error {
	rc, err := openRunbook(ctx, env, "runbook run", args, true)
	if err != nil {
		return err
	}
	defer rc.done()
	key, f, sc, a := rc.key, rc.f, rc.sc, rc.a
	u, err := a.Tenancy.PlatformUserByEmail(ctx, f.as)
	if errors.Is(err, tenancy.ErrNotFound) || (err == nil && u.Disabled) {
		return fmt.Errorf("no enabled platform user has the email %q", strings.ToLower(strings.TrimSpace(f.as)))
	}
	if err != nil {
		return err
	}
	out, err := a.Runbooks.Start(ctx, runbooks.StartRequest{Key: key, Scope: sc, ReasonCode: f.reasonCode, ReasonText: f.reason, Confirm: f.confirm},
		runbooks.Origin{User: u, Source: runbooks.SourceCLI})
	if err != nil {
		return runbookError(err)
	}
	if f.json {
		err = json.NewEncoder(env.stdout).Encode(out)
	} else {
		_, err = fmt.Fprintf(env.stdout, "%s: %s\n", out.Status, out.OperatorMessage)
		if err == nil && out.Run != nil {
			_, err = fmt.Fprintf(env.stdout, "run %s (%s)\n", out.Run.ID, out.Run.URL)
		}
	}
	if err != nil {
		return err
	}
	if out.Status != operations.StartAccepted && out.Status != operations.StartDeduped {
		return fmt.Errorf("not started (%s): %s", out.Status, out.OperatorMessage)
	}
	return nil
}

// runbookCall is a parsed runbook command: its runbook key, flags, scope and the wired
// monolith; done closes the pool.
type runbookCall struct {
	key  string
	f    runbookFlags
	sc   runbooks.Scope
	a    *monolith.App
	done func()
}

// openRunbook parses a runbook command's arguments and scope, then connects and wires
// the monolith for it (its gate declares the types the deployment's workers run: the
// run is worked by `atlas serve` or `atlas worker`).
func openRunbook(ctx context.Context, env *cli, name string, args []string, run bool) (runbookCall, error) {
	key, f, err := parseRunbookArgs(env, name, args, run)
	if err != nil {
		return runbookCall{}, err
	}
	sc, err := f.scopeOf()
	if err != nil {
		return runbookCall{}, err
	}
	log, err := newLogger(env.stderr, f.common)
	if err != nil {
		return runbookCall{}, err
	}
	pool, err := connect(ctx, env, log, "runbook", 4)
	if err != nil {
		return runbookCall{}, err
	}
	return runbookCall{key: key, f: f, sc: sc, a: newApp(pool, log), done: pool.Close}, nil
}
