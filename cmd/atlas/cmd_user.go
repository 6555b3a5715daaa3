package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// cliActor is the actor of the changes the user commands make.
var cliActor = tenancy.SystemActor("cli")

// runUserDisable disables a user: every hub session ends at once, sign-in and the user's
// API tokens are refused from then on. Disabling a disabled user changes nothing.
func runUserDisable(ctx context.Context, env *cli, args []string) error {
	email, c, err := openUserCommand(ctx, env, "user disable", args, nil)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	u, err := newApp(c.pool, c.log).Tenancy.DisableUser(ctx, cliActor, email)
	if errors.Is(err, tenancy.ErrNotFound) {
		return fmt.Errorf("no user with email %q", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "user %s disabled: every session ended, sign-in and API tokens refused\n", u.Email)
	return nil
}

// runUserPassword sets a user's password from the first line of stdin (at least
// tenancy.MinPasswordLength characters); every hub session of the user ends at once.
func runUserPassword(ctx context.Context, env *cli, args []string) error {
	var password string
	email, c, err := openUserCommand(ctx, env, "user password", args, func() error {
		p, err := readPasswordLine(env.stdin)
		password = p
		return err
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	u, err := newApp(c.pool, c.log).Tenancy.SetPassword(ctx, cliActor, email, password)
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		return fmt.Errorf("no user with email %q", email)
	case errors.Is(err, tenancy.ErrInvalid):
		return fmt.Errorf("the password must be at least %d characters (and at most %d bytes); nothing changed",
			tenancy.MinPasswordLength, tenancy.MaxPasswordBytes)
	case err != nil:
		return err
	}
	fmt.Fprintf(env.stdout, "password of %s changed: every session ended\n", u.Email)
	return nil
}

// openUserCommand parses `atlas user … EMAIL` (usage errors before anything else), runs
// check (reading stdin, say) and connects to DATABASE_URL. The caller closes c.pool.
func openUserCommand(ctx context.Context, env *cli, name string, args []string, check func() error) (string, *dbCommand, error) {
	var common commonFlags
	fs := newFlagSet(env, name, &common)
	if err := fs.Parse(args); err != nil {
		return "", nil, usageError{err.Error()}
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return "", nil, usageError{fmt.Sprintf("usage: atlas %s EMAIL", name)}
	}
	email := strings.TrimSpace(fs.Arg(0))
	log, err := newLogger(env.stderr, common)
	if err != nil {
		return "", nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return "", nil, err
		}
	}
	pool, err := connect(ctx, env, log, "user", 2)
	if err != nil {
		return "", nil, err
	}
	return email, &dbCommand{log: log, pool: pool}, nil
}

// readPasswordLine reads the new password: the first line of r, without its line ending.
func readPasswordLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no password on stdin: pipe one line, e.g. `atlas user password EMAIL < file`")
	}
	line, err := bufio.NewReaderSize(io.LimitReader(r, 1024), 1024).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin: pipe one line, e.g. `atlas user password EMAIL < file`")
	}
	if utf8.RuneCountInString(line) < tenancy.MinPasswordLength || len(line) > tenancy.MaxPasswordBytes {
		return "", fmt.Errorf("the password must be at least %d characters (and at most %d bytes); nothing changed",
			tenancy.MinPasswordLength, tenancy.MaxPasswordBytes)
	}
	return line, nil
}
