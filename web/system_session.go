package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// The /system panel's cookies: names of their own, Path=/system (a browser never sends
// them to /admin), SameSite=Strict, signed under systemKey, never the hub's key.
const (
	systemSessionCookie = "atlas_system_session"
	systemLoginCookie   = "atlas_system_login"
	systemPath          = "/system"
	localPlatformUser   = "atlas.platform_user"
)

// systemKeyOf derives the key that signs /system cookies and CSRF tokens from the
// session key: HMAC-SHA256(sessionKey, purpose). A value the hub signed (under the
// session key itself) never verifies under it, nor the reverse, even for the same
// payload.
func systemKeyOf(sessionKey []byte) []byte {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("atlas/system-session-key/v1"))
	return m.Sum(nil)
}

// systemSessions is the /system panel's codec: the /system key, Path=/system,
// SameSite=Strict, cookie names of its own.
func (s *Server) systemSessions() sessionCodec {
	return sessionCodec{key: s.systemKey, purpose: "system-session", cookie: systemSessionCookie, login: systemLoginCookie,
		scope: systemCookies}
}

// signSystem is the hex HMAC-SHA256 of parts under the /system key.
func (s *Server) signSystem(parts ...string) string { return s.systemSessions().sign(parts...) }

// isSystemPath reports whether path is under /system.
func isSystemPath(path string) bool {
	return path == systemPath || strings.HasPrefix(path, systemPath+"/")
}

// systemSessionValue is the signed /system cookie value
// "platformUserID|sessionVersion|expiryUnix|hmac" (HMAC under the /system key).
func (s *Server) systemSessionValue(u tenancy.PlatformUser, exp time.Time) string {
	return s.systemSessions().value(u.ID, u.SessionVersion, exp)
}

// parseSystemSession returns the platform user id and session version of a /system
// cookie value signed under the /system key and unexpired.
func (s *Server) parseSystemSession(v string, now time.Time) (uuid.UUID, int64, bool) {
	return s.systemSessions().parse(v, now)
}

// platformSessionUser returns the platform user of a live /system cookie value: signed
// under the /system key, unexpired, of an enabled platform user whose session version is
// still the one the cookie carries.
func (s *Server) platformSessionUser(ctx context.Context, raw string) (tenancy.PlatformUser, bool, error) {
	return liveSession(ctx, s.systemSessions(), raw, s.deps.Tenancy.PlatformUser,
		func(u tenancy.PlatformUser) (bool, int64) { return u.Disabled, u.SessionVersion })
}

// requirePlatformSession authenticates a /system request by its /system cookie (the
// hub's cookie counts for nothing here): anonymous requests go to /system/login; every
// POST must carry the session's CSRF token.
func (s *Server) requirePlatformSession(c *fiber.Ctx) error {
	return requirePanelSession(c, s.systemSessions(), "/system/login", localPlatformUser, s.platformSessionUser)
}

// requirePlatform answers 403 (the /system error page) unless the signed-in platform
// user has the capability; it runs after requirePlatformSession.
func (s *Server) requirePlatform(capability tenancy.PlatformCapability) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !currentPlatformUser(c).Can(capability) {
			return fiber.NewError(fiber.StatusForbidden, "forbidden")
		}
		return c.Next()
	}
}

// currentPlatformUser is the signed-in platform user of a /system request.
func currentPlatformUser(c *fiber.Ctx) tenancy.PlatformUser {
	u, _ := c.Locals(localPlatformUser).(tenancy.PlatformUser)
	return u
}
