package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// atlasStdin runs the CLI in-process with stdin and returns exit code, stdout and stderr.
func atlasStdin(ctx context.Context, env map[string]string, stdin string, args ...string) (int, string, string) {
	var out, errOut monotest.Buffer
	code := run(ctx, &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return env[k] }}, args)
	return code, out.String(), errOut.String()
}

func TestUserCommandsUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"user", "disable"},
		{"user", "disable", "a@example.com", "b@example.com"},
		{"user", "password"},
		{"user", "password", "--bogus", "a@example.com"},
		{"user", "disable", " "},
	} {
		// No DATABASE_URL: a usage error is found before anything is connected.
		code, _, stderr := atlasStdin(t.Context(), nil, "a long enough password\n", args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	}
	code, _, _ := atlas(t.Context(), nil, "user")
	require.Equal(t, 2, code)
}

// TestUserPasswordAndDisable: `atlas user password` reads one line from stdin, refuses a
// short one (exit 1, saying the minimum), and ends every session; `atlas user disable`
// ends them again and refuses sign-in and the user's API tokens.
func TestUserPasswordAndDisable(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	email := "cli-" + uuid.NewString() + "@example.com"
	u, err := a.Tenancy.RegisterUser(t.Context(), "system:test", email, "CLI User", "the first password")
	require.NoError(t, err)
	token, _, err := a.Tenancy.IssueToken(t.Context(), "system:test", u.ID, "cli")
	require.NoError(t, err)
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}

	code, _, stderr := atlasStdin(t.Context(), env, "too short\n", "user", "password", email)
	require.Equal(t, 1, code)
	require.Equal(t, "atlas user password: the password must be at least 12 characters (and at most 72 bytes); nothing changed\n", stderr)
	code, _, stderr = atlasStdin(t.Context(), env, "", "user", "password", email)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no password on stdin")
	code, _, stderr = atlasStdin(t.Context(), env, "the second password\n", "user", "password", "nobody-"+uuid.NewString()+"@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no user with email")

	code, stdout, stderr := atlasStdin(t.Context(), env, "the second password\r\nignored\n", "user", "password", strings.ToUpper(email))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "password of "+email+" changed")
	_, err = a.Tenancy.AuthenticatePassword(t.Context(), email, "the first password")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	got, err := a.Tenancy.AuthenticatePassword(t.Context(), email, "the second password")
	require.NoError(t, err)
	require.Greater(t, got.SessionVersion, u.SessionVersion, "every session ended")

	code, stdout, stderr = atlas(t.Context(), env, "user", "disable", email)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "user "+email+" disabled")
	off, err := a.Tenancy.User(t.Context(), u.ID)
	require.NoError(t, err)
	require.True(t, off.Disabled)
	require.Greater(t, off.SessionVersion, got.SessionVersion)
	_, err = a.Tenancy.AuthenticatePassword(t.Context(), email, "the second password")
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = a.Tenancy.AuthenticateToken(t.Context(), token)
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	code, _, stderr = atlas(t.Context(), env, "user", "disable", email)
	require.Equal(t, 0, code, "disabling again is fine: %s", stderr)
	code, _, stderr = atlas(t.Context(), env, "user", "disable", "nobody-"+uuid.NewString()+"@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no user with email")

	// The changes are audited, by the CLI, without the password.
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'target' = $1 AND actor = 'system:cli' AND data->>'action' IN ('user.password_change', 'user.disable')`,
		"user:"+u.ID.String()).Scan(&n))
	require.Equal(t, 2, n)
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE strpos(data::text, 'the second password') > 0`).Scan(&n))
	require.Zero(t, n)
}
