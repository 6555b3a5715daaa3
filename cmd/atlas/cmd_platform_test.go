package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestPlatformUserCreateUsage: a missing email, an unknown capability, a stray argument
// or flag exit 2 with one line, before stdin is read or a database is looked for.
func TestPlatformUserCreateUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"platform-user", "create"},
		{"platform-user", "create", "--email", " "},
		{"platform-user", "create", "--email", "a@example.com", "--capability", "operations.view"},
		{"platform-user", "create", "--email", "a@example.com", "--capability", "platform.ops.view", "extra"},
		{"platform-user", "create", "--email", "a@example.com", "--bogus"},
		{"platform-user"},
	} {
		code, _, stderr := atlasStdin(t.Context(), nil, "a long enough password\n", args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	}
	code, _, stderr := atlasStdin(t.Context(), nil, "", "platform-user", "create", "--email", "a@example.com", "--capability", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown capability "nope"`)
	require.Contains(t, stderr, "platform.runbooks.findings.lifecycle_backfill", "the known ones are named")
}

// TestPlatformUserCreate: the password comes from stdin, the output is {"id","email"},
// the user signs in to /system with its capabilities and flag; a taken email or a short
// password exits 1 with one line and changes nothing.
func TestPlatformUserCreate(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	a := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost})
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	email := "ops-" + uuid.NewString() + "@example.com"

	code, _, stderr := atlasStdin(t.Context(), env, "too short\n", "platform-user", "create", "--email", email)
	require.Equal(t, 1, code)
	require.Equal(t, "atlas platform-user create: the password must be at least 12 characters (and at most 72 bytes); nothing changed\n", stderr)

	code, stdout, stderr := atlasStdin(t.Context(), env, "a platform passphrase\n", "platform-user", "create",
		"--email", strings.ToUpper(email), "--name", "Ops Person", "--capability", "platform.runbooks.run",
		"--capability", "platform.ops.view", "--break-glass")
	require.Equal(t, 0, code, stderr)
	var out map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	require.Equal(t, email, out["email"])
	require.Len(t, out, 2)
	id := uuid.MustParse(out["id"])

	u, err := a.Tenancy.PlatformLogin(t.Context(), tenancy.LoginAttempt{Email: email, Password: "a platform passphrase", IP: "192.0.2.9"})
	require.NoError(t, err)
	require.Equal(t, id, u.ID)
	require.Equal(t, "Ops Person", u.Name)
	require.True(t, u.BreakGlass)
	require.Equal(t, []tenancy.PlatformCapability{tenancy.PlatformOpsView, tenancy.PlatformRunbooksRun}, u.Capabilities)

	code, _, stderr = atlasStdin(t.Context(), env, "another passphrase\n", "platform-user", "create", "--email", email)
	require.Equal(t, 1, code)
	require.Equal(t, "atlas platform-user create: a platform user with email \""+email+"\" already exists; nothing changed\n", stderr)
	code, _, stderr = atlasStdin(t.Context(), env, "another passphrase\n", "platform-user", "create", "--email", "not an email")
	require.Equal(t, 1, code)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "%q", stderr)

	// Disabled by the CLI: sign-in refused; again is fine; an unknown email exits 1.
	code, stdout, stderr = atlas(t.Context(), env, "platform-user", "disable", strings.ToUpper(email))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "platform user "+email+" disabled")
	_, err = a.Tenancy.PlatformLogin(t.Context(), tenancy.LoginAttempt{Email: email, Password: "a platform passphrase", IP: "192.0.2.9"})
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	code, _, stderr = atlas(t.Context(), env, "platform-user", "disable", email)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = atlas(t.Context(), env, "platform-user", "disable", "nobody-"+uuid.NewString()+"@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no platform user with email")
	code, _, _ = atlas(t.Context(), nil, "platform-user", "disable")
	require.Equal(t, 2, code)

	// Created and disabled by the CLI, audited, the password nowhere.
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' IN ('platform.user.create', 'platform.user.disable') AND data->>'target' = $1 AND actor = 'system:cli'`,
		"platform:"+id.String()).Scan(&n))
	require.Equal(t, 2, n)
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events WHERE strpos(data::text, 'a platform passphrase') > 0`).Scan(&n))
	require.Zero(t, n)
}
