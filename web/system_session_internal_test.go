package web

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// TestSessionKeysAreApart: for the very same payload (one id, version and expiry), a
// value the hub signed never verifies as a /system session and the reverse, so neither
// cookie is ever valid on the other panel even if ids collided.
func TestSessionKeysAreApart(t *testing.T) {
	t.Parallel()
	s := New(Deps{SessionKey: []byte("0123456789abcdef0123456789abcdef")})
	id, now := uuid.New(), time.Now()
	exp := now.Add(time.Hour)
	hub := s.sessionValue(id, 3, exp)
	system := s.systemSessionValue(tenancy.PlatformUser{ID: id, SessionVersion: 3}, exp)
	require.NotEqual(t, hub, system)

	gotID, version, ok := s.parseSession(hub, now)
	require.True(t, ok)
	require.Equal(t, id, gotID)
	require.EqualValues(t, 3, version)
	gotID, version, ok = s.parseSystemSession(system, now)
	require.True(t, ok)
	require.Equal(t, id, gotID)
	require.EqualValues(t, 3, version)

	_, _, ok = s.parseSystemSession(hub, now)
	require.False(t, ok, "a hub value is no /system session")
	_, _, ok = s.parseSession(system, now)
	require.False(t, ok, "a /system value is no hub session")
	_, _, ok = s.parseSystemSession(system, exp)
	require.False(t, ok, "expired")
	require.NotEqual(t, s.sign("csrf", hub), s.signSystem("csrf", hub), "CSRF tokens apart too")
}
