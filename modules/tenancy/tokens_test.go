package tenancy_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.user(t)

	plain, id, err := b.svc.IssueToken(b.ctx, tenancy.UserActor(u.ID), u.ID, "ci")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(plain, tenancy.TokenPrefix))
	require.Len(t, plain, len(tenancy.TokenPrefix)+43)
	require.NotEqual(t, uuid.Nil, id)

	got, err := b.svc.AuthenticateToken(b.ctx, plain)
	require.NoError(t, err)
	require.Equal(t, u, got)

	// A second token is independent.
	plain2, id2, err := b.svc.IssueToken(b.ctx, sys, u.ID, "laptop")
	require.NoError(t, err)
	require.NotEqual(t, plain, plain2)

	// Neither plaintext is stored or recorded anywhere.
	b.requireNowhere(t, plain)
	b.requireNowhere(t, strings.TrimPrefix(plain, tenancy.TokenPrefix))
	b.requireNowhere(t, plain2)

	require.NoError(t, b.svc.RevokeToken(b.ctx, sys, id))
	_, err = b.svc.AuthenticateToken(b.ctx, plain)
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)
	_, err = b.svc.AuthenticateToken(b.ctx, plain2)
	require.NoError(t, err, "revoking one token leaves the others")

	// Revoking again is a no-op; an unknown token is not found.
	require.NoError(t, b.svc.RevokeToken(b.ctx, sys, id))
	require.ErrorIs(t, b.svc.RevokeToken(b.ctx, sys, uuid.New()), tenancy.ErrNotFound)

	events := b.events(t, tenancy.StreamUser, u.ID)
	require.Equal(t, []string{"UserRegistered", "APITokenIssued", "APITokenIssued", "APITokenRevoked"}, b.eventTypes(t, tenancy.StreamUser, u.ID))
	require.Equal(t, tenancy.APITokenIssued{TokenID: id, UserID: u.ID, Name: "ci"}, events[1].Data)
	require.Equal(t, tenancy.UserActor(u.ID), events[1].Metadata.Actor)
	require.Equal(t, tenancy.APITokenIssued{TokenID: id2, UserID: u.ID, Name: "laptop"}, events[2].Data)
	require.Equal(t, tenancy.APITokenRevoked{TokenID: id, UserID: u.ID}, events[3].Data)

	_, _, err = b.svc.IssueToken(b.ctx, sys, uuid.New(), "ghost")
	require.ErrorIs(t, err, tenancy.ErrNotFound)
	_, _, err = b.svc.IssueToken(b.ctx, sys, u.ID, "  ")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	_, _, err = b.svc.IssueToken(b.ctx, "", u.ID, "x")
	require.ErrorIs(t, err, tenancy.ErrInvalid, "an actor is required")
}

func TestAuthenticateTokenRejectsGarbage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.user(t)
	plain, _, err := b.svc.IssueToken(b.ctx, sys, u.ID, "ci")
	require.NoError(t, err)
	for _, bad := range []string{
		"",
		"x",
		"Bearer x",
		"Bearer " + plain,
		" " + plain,
		plain + " ",
		plain + "\n",
		strings.ToUpper(plain),
		plain[:len(plain)-1],
		plain + "A",
		"atl_",
		tenancy.TokenPrefix + strings.Repeat("A", 43),
		tenancy.TokenPrefix + strings.Repeat("A", 42) + "=",
		tenancy.TokenPrefix + strings.Repeat("é", 43),
		tenancy.TokenPrefix + strings.Repeat("A", 1000),
		"' OR 1=1 --",
	} {
		_, err := b.svc.AuthenticateToken(b.ctx, bad)
		require.ErrorIs(t, err, tenancy.ErrUnauthenticated, "%q", bad)
	}
}

func TestImportToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, other := b.user(t), b.user(t)
	plain := tenancy.TokenPrefix + "demo_owner_" + strings.ReplaceAll(uuid.NewString(), "-", "")

	id, err := b.svc.ImportToken(b.ctx, "system:seed", u.ID, "demo", plain)
	require.NoError(t, err)
	got, err := b.svc.AuthenticateToken(b.ctx, plain)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)

	// Idempotent for the same user: same id, no second event.
	again, err := b.svc.ImportToken(b.ctx, "system:seed", u.ID, "demo", plain)
	require.NoError(t, err)
	require.Equal(t, id, again)
	require.Equal(t, []string{"UserRegistered", "APITokenIssued"}, b.eventTypes(t, tenancy.StreamUser, u.ID))
	require.Equal(t, tenancy.APITokenIssued{TokenID: id, UserID: u.ID, Name: "demo", Imported: true},
		b.events(t, tenancy.StreamUser, u.ID)[1].Data)

	// Someone else's token, or a revoked one, is a conflict.
	_, err = b.svc.ImportToken(b.ctx, "system:seed", other.ID, "demo", plain)
	require.ErrorIs(t, err, tenancy.ErrConflict)
	require.NoError(t, b.svc.RevokeToken(b.ctx, sys, id))
	_, err = b.svc.ImportToken(b.ctx, "system:seed", u.ID, "demo", plain)
	require.ErrorIs(t, err, tenancy.ErrConflict)
	_, err = b.svc.AuthenticateToken(b.ctx, plain)
	require.ErrorIs(t, err, tenancy.ErrUnauthenticated)

	for _, bad := range []string{"", "secret", "atl_short", "Bearer " + plain, plain + "!"} {
		_, err := b.svc.ImportToken(b.ctx, "system:seed", u.ID, "demo", bad)
		require.ErrorIs(t, err, tenancy.ErrInvalid, "%q", bad)
	}
	b.requireNowhere(t, plain)
}
