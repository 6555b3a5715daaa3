package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
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

// signSystem is the hex HMAC-SHA256 of parts under the /system key.
func (s *Server) signSystem(parts ...string) string { return macHex(s.systemKey, parts...) }

// isSystemPath reports whether path is under /system.
func isSystemPath(path string) bool {
	return path == systemPath || strings.HasPrefix(path, systemPath+"/")
}

// systemSessionValue is the signed /system cookie value
// "platformUserID|sessionVersion|expiryUnix|hmac" (HMAC under the /system key).
func (s *Server) systemSessionValue(u tenancy.PlatformUser, exp time.Time) string {
	payload := sessionPayload(u.ID, u.SessionVersion, exp)
	return payload + "|" + s.signSystem("system-session", payload)
}

// parseSystemSession returns the platform user id and session version of a /system
// cookie value signed under the /system key and unexpired.
func (s *Server) parseSystemSession(v string, now time.Time) (uuid.UUID, int64, bool) {
	return parseSessionValue(v, now, func(sig, payload string) bool {
		return hmac.Equal([]byte(sig), []byte(s.signSystem("system-session", payload)))
	})
}

// platformSessionUser returns the platform user of a live /system cookie value: signed
// under the /system key, unexpired, of an enabled platform user whose session version is
// still the one the cookie carries.
func (s *Server) platformSessionUser(ctx context.Context, raw string) (tenancy.PlatformUser, bool, error) {
	id, version, ok := s.parseSystemSession(raw, time.Now())
	if !ok {
		return tenancy.PlatformUser{}, false, nil
	}
	u, err := s.deps.Tenancy.PlatformUser(ctx, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return tenancy.PlatformUser{}, false, nil
	}
	if err != nil {
		return tenancy.PlatformUser{}, false, err
	}
	if u.Disabled || u.SessionVersion != version {
		return tenancy.PlatformUser{}, false, nil
	}
	return u, true, nil
}

// setSystemCookie sets an HttpOnly, SameSite=Strict cookie on Path=/system, Secure over
// TLS (or behind a trusted proxy that says https).
func setSystemCookie(c *fiber.Ctx, name, value string, exp time.Time) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: systemPath, Expires: exp, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
}

// clearSystemCookie removes a cookie set by setSystemCookie.
func clearSystemCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: systemPath, Expires: time.Unix(1, 0), MaxAge: -1, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
}

// requirePlatformSession authenticates a /system request by its /system cookie (the
// hub's cookie counts for nothing here): anonymous requests go to /system/login; every
// POST must carry the session's CSRF token.
func (s *Server) requirePlatformSession(c *fiber.Ctx) error {
	raw := c.Cookies(systemSessionCookie)
	u, ok, err := s.platformSessionUser(c.UserContext(), raw)
	if err != nil {
		return err
	}
	if !ok {
		if raw != "" {
			clearSystemCookie(c, systemSessionCookie)
		}
		if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Redirect("/system/login", fiber.StatusFound)
		}
		return c.Redirect("/system/login", fiber.StatusSeeOther)
	}
	token := s.signSystem("csrf", raw)
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		if !hmac.Equal([]byte(c.FormValue(csrfField)), []byte(token)) {
			return fiber.NewError(fiber.StatusForbidden, formExpired)
		}
	}
	c.Locals(localPlatformUser, u)
	c.Locals(localCSRF, token)
	return c.Next()
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
