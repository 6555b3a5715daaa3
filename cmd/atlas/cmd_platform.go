package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// runPlatformUserCreate creates a platform user of /system: `--email E [--name N]
// [--capability C]... [--break-glass]`, the password one line on stdin. It prints
// {"id","email"}. Usage errors (a missing email, an unknown capability) exit 2 before
// stdin is read or anything is connected; a taken email exits 1.
func runPlatformUserCreate(ctx context.Context, env *cli, args []string) error {
	var (
		common     commonFlags
		email      string
		name       string
		caps       []tenancy.PlatformCapability
		breakGlass bool
	)
	fs := newFlagSet(env, "platform-user create", &common)
	fs.StringVar(&email, "email", "", "the sign-in email (required)")
	fs.StringVar(&name, "name", "", "the display name (default: the email)")
	fs.Func("capability", "a platform capability (repeatable): "+capabilityList(), func(v string) error {
		c, ok := tenancy.ParsePlatformCapability(strings.TrimSpace(v))
		if !ok {
			return fmt.Errorf("unknown capability %q (known: %s)", v, capabilityList())
		}
		caps = append(caps, c)
		return nil
	})
	fs.BoolVar(&breakGlass, "break-glass", false, "an emergency account: every run needs a reason")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(email) == "" {
		return usageError{"usage: atlas platform-user create --email E [--name N] [--capability C]... [--break-glass] (password on stdin)"}
	}
	log, err := newLogger(env.stderr, common)
	if err != nil {
		return err
	}
	password, err := readPasswordLine(env.stdin)
	if err != nil {
		return err
	}
	url, err := databaseURL(ctx, env, log, false)
	if err != nil {
		return err
	}
	timeouts, err := dbTimeoutsFor(env, "platform-user")
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, url, 2, timeouts)
	if err != nil {
		return err
	}
	defer pool.Close()
	u, err := newApp(pool, log).Tenancy.CreatePlatformUser(ctx, cliActor, tenancy.NewPlatformUser{
		Email: email, Name: name, Password: password, Capabilities: caps, BreakGlass: breakGlass})
	switch {
	case errors.Is(err, tenancy.ErrConflict):
		return fmt.Errorf("a platform user with email %q already exists; nothing changed", strings.ToLower(strings.TrimSpace(email)))
	case errors.Is(err, tenancy.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), "tenancy: create platform user: ")
		return fmt.Errorf("not created: %s", strings.TrimSuffix(msg, ": "+tenancy.ErrInvalid.Error()))
	case err != nil:
		return err
	}
	return json.NewEncoder(env.stdout).Encode(struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	}{u.ID.String(), u.Email})
}

// capabilityList names every platform capability, comma-separated.
func capabilityList() string {
	var names []string
	for _, c := range tenancy.PlatformCapabilities() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

// runPlatformUserDisable disables the platform user with EMAIL: every /system session
// ends at once and sign-in is refused from then on. Disabling a disabled user changes
// nothing.
func runPlatformUserDisable(ctx context.Context, env *cli, args []string) error {
	email, c, err := openUserCommand(ctx, env, "platform-user disable", args, nil)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	u, err := newApp(c.pool, c.log).Tenancy.DisablePlatformUser(ctx, cliActor, email)
	if errors.Is(err, tenancy.ErrNotFound) {
		return fmt.Errorf("no platform user with email %q", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "platform user %s disabled: every /system session ended, sign-in refused\n", u.Email)
	return nil
}
