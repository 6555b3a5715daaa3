package tenancy_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestRegisterAndAuthenticatePassword(t *testing.T) {
	t.Parallel()
	b := setup(t)
	local := uniq("Alice")
	password := "s3cret-" + uuid.NewString()[:8] + "-pw"

	u, err := b.svc.RegisterUser(b.ctx, sys, "  "+local+"@Example.COM ", " Alice Admin ", password)
	require.NoError(t, err)
	email := strings.ToLower(local) + "@example.com"
	require.Equal(t, email, u.Email, "email is normalized to lower case")
	require.Equal(t, "Alice Admin", u.DisplayName)

	got, err := b.svc.AuthenticatePassword(b.ctx, strings.ToUpper(email), password)
	require.NoError(t, err)
	require.Equal(t, u, got)

	byEmail, err := b.svc.UserByEmail(b.ctx, strings.ToUpper(email))
	require.NoError(t, err)
	require.Equal(t, u, byEmail)
	byID, err := b.svc.User(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u, byID)
	_, err = b.svc.User(b.ctx, uuid.New())
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = b.svc.UserByEmail(b.ctx, "nobody-"+uuid.NewString()+"@example.com")
	require.ErrorIs(t, err, tenancy.ErrNotFound)

	for _, tc := range []struct{ email, password string }{
		{email, password + "x"},
		{email, strings.ToUpper(password)},
		{email, ""},
		{"nobody-" + uuid.NewString() + "@example.com", password},
		{"not an email", password},
		{"", ""},
	} {
		_, err := b.svc.AuthenticatePassword(b.ctx, tc.email, tc.password)
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated, "%q", tc.email)
	}

	// Duplicate email, in any case → conflict, and no second event.
	_, err = b.svc.RegisterUser(b.ctx, sys, strings.ToUpper(email), "Other", "another long password")
	require.ErrorIs(t, err, tenancy.ErrConflict)

	events := b.events(t, tenancy.StreamUser, u.ID)
	require.Len(t, events, 1)
	require.Equal(t, tenancy.UserRegistered{UserID: u.ID, Email: email, DisplayName: "Alice Admin"}, events[0].Data)
	require.Equal(t, sys, events[0].Metadata.Actor)

	// Neither the password nor its hash is recorded in any event.
	b.requireNowhere(t, password)
	var hash string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT password_hash FROM tn_users WHERE id = $1`, u.ID).Scan(&hash))
	require.True(t, strings.HasPrefix(hash, "$2a$"), "bcrypt hash stored")
	require.NotContains(t, hash, password)
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE strpos(data::text, $1) > 0`, hash).Scan(&n))
	require.Zero(t, n, "password hash in es_events")
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE strpos(data::text, '$2a$') > 0`).Scan(&n))
	require.Zero(t, n, "some bcrypt hash in es_events")
}

func TestRegisterUserValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	email := func() string { return uniq("v") + "@example.com" }
	for _, tc := range []struct {
		name, email, display, password string
	}{
		{"short password", email(), "V", "elevenchars"},
		{"short multibyte password", email(), "V", strings.Repeat("ü", 11)},
		{"password over 72 bytes", email(), "V", strings.Repeat("p", 73)},
		{"empty email", "", "V", testPassword},
		{"not an email", "not-an-email", "V", testPassword},
		{"display name in email", "Vic <" + email() + ">", "V", testPassword},
		{"empty display name", email(), " ", testPassword},
	} {
		_, err := b.svc.RegisterUser(b.ctx, sys, tc.email, tc.display, tc.password)
		require.ErrorIs(t, err, tenancy.ErrInvalid, tc.name)
	}
	// Exactly 12 characters is enough, multi-byte ones count as one.
	_, err := b.svc.RegisterUser(b.ctx, sys, email(), "V", strings.Repeat("ü", 12))
	require.NoError(t, err)
	_, err = b.svc.RegisterUser(b.ctx, "someone", email(), "V", testPassword)
	require.ErrorIs(t, err, tenancy.ErrInvalid, "actor without a kind")
}
