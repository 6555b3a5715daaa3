package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
)

const (
	sessionCookie = "atlas_session"
	loginCookie   = "atlas_login"
	flashCookie   = "atlas_flash"
	csrfField     = "_csrf"
	sessionTTL    = 12 * time.Hour
	localCSRF     = "atlas.csrf"
)

// formExpired is the 403 message of a form POST without its CSRF token.
const formExpired = "The form has expired or did not come from this site. Go back, reload the page and try again."

// sign is the hex HMAC-SHA256 of parts under the session key.
func (s *Server) sign(parts ...string) string { return macHex(s.sessionKey, parts...) }

// macHex is the hex HMAC-SHA256 under key of parts, each followed by a NUL.
func macHex(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) validSig(sig string, parts ...string) bool {
	return hmac.Equal([]byte(sig), []byte(s.sign(parts...)))
}

// sessionValue is the signed cookie value "userID|sessionVersion|expiryUnix|hmac".
func (s *Server) sessionValue(userID uuid.UUID, version int64, exp time.Time) string {
	payload := sessionPayload(userID, version, exp)
	return payload + "|" + s.sign("session", payload)
}

// sessionPayload is the signed part of a session cookie: "id|version|expiryUnix".
func sessionPayload(id uuid.UUID, version int64, exp time.Time) string {
	return id.String() + "|" + strconv.FormatInt(version, 10) + "|" + strconv.FormatInt(exp.Unix(), 10)
}

// parseSession returns the user id and session version of a valid, unexpired session
// cookie value (whether the version is still the user's is for the caller to check).
func (s *Server) parseSession(v string, now time.Time) (uuid.UUID, int64, bool) {
	return parseSessionValue(v, now, func(sig, payload string) bool { return s.validSig(sig, "session", payload) })
}

// parseSessionValue splits a "payload|signature" cookie value, checks the signature
// with valid, and returns the id and version of an unexpired payload.
func parseSessionValue(v string, now time.Time, valid func(sig, payload string) bool) (uuid.UUID, int64, bool) {
	i := strings.LastIndexByte(v, '|')
	if i < 0 {
		return uuid.Nil, 0, false
	}
	payload, sig := v[:i], v[i+1:]
	if !valid(sig, payload) {
		return uuid.Nil, 0, false
	}
	parts := strings.Split(payload, "|")
	if len(parts) != 3 {
		return uuid.Nil, 0, false
	}
	version, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return uuid.Nil, 0, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || now.Unix() >= exp {
		return uuid.Nil, 0, false
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return uuid.Nil, 0, false
	}
	return id, version, true
}

// sessionUser returns the user of a live session cookie value: well signed, unexpired,
// of an enabled user whose session version is still the one the cookie carries.
func (s *Server) sessionUser(ctx context.Context, raw string) (tenancy.User, bool, error) {
	id, version, ok := s.parseSession(raw, time.Now())
	if !ok {
		return tenancy.User{}, false, nil
	}
	u, err := s.deps.Tenancy.User(ctx, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return tenancy.User{}, false, nil
	}
	if err != nil {
		return tenancy.User{}, false, err
	}
	if u.Disabled || u.SessionVersion != version {
		return tenancy.User{}, false, nil
	}
	return u, true, nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie on Path=/, Secure over TLS.
func setCookie(c *fiber.Ctx, name, value string, exp time.Time) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: "/", Expires: exp, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
}

// clearCookie removes a cookie set by setCookie.
func clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", Expires: time.Unix(1, 0), MaxAge: -1, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Secure: c.Protocol() == "https"})
}

func randomToken() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// requireSession authenticates an /admin request by its session cookie (its user enabled
// and its session version current, so a logout, password change or disable ends it at
// once): anonymous requests go to the login page; every POST must carry the session's CSRF token.
func (s *Server) requireSession(c *fiber.Ctx) error {
	raw := c.Cookies(sessionCookie)
	u, ok, err := s.sessionUser(c.UserContext(), raw)
	if err != nil {
		return err
	}
	if !ok {
		if raw != "" {
			clearCookie(c, sessionCookie)
		}
		if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Redirect("/admin/login", fiber.StatusFound)
		}
		return c.Redirect("/admin/login", fiber.StatusSeeOther)
	}
	token := s.sign("csrf", raw)
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		if !hmac.Equal([]byte(c.FormValue(csrfField)), []byte(token)) {
			return fiber.NewError(fiber.StatusForbidden, formExpired)
		}
	}
	c.Locals(localUser, u)
	c.Locals(localCSRF, token)
	return c.Next()
}

// flash is a one-shot message shown after a redirect.
type flash struct {
	Kind    string `json:"k"`
	Message string `json:"m"`
	Href    string `json:"h,omitempty"`
	// Verb, Target, Reason, Connection and Actions carry the rest of a start's
	// outcome (flashOf); empty for other messages.
	Verb       string        `json:"v,omitempty"`
	Target     string        `json:"t,omitempty"`
	Reason     string        `json:"r,omitempty"`
	Connection string        `json:"c,omitempty"`
	Actions    []flashAction `json:"a,omitempty"`
}

// flashAction is a link of a flash message (View run, Open provider connection).
type flashAction struct {
	Label string `json:"l"`
	Href  string `json:"h"`
}

// setFlash stores a signed one-shot flash message for the next page.
func (s *Server) setFlash(c *fiber.Ctx, f flash) {
	raw, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	setCookie(c, flashCookie, payload+"."+s.sign("flash", payload), time.Now().Add(5*time.Minute))
}

// takeFlash returns and clears the flash message, if a valid one is set.
func (s *Server) takeFlash(c *fiber.Ctx) *flash {
	v := c.Cookies(flashCookie)
	if v == "" {
		return nil
	}
	clearCookie(c, flashCookie)
	payload, sig, ok := strings.Cut(v, ".")
	if !ok || !s.validSig(sig, "flash", payload) {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(raw, &f) != nil {
		return nil
	}
	if !strings.HasPrefix(f.Href, "/admin/") {
		f.Href = ""
	}
	return &f
}
