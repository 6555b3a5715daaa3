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
func (s *Server) sign(parts ...string) string { return s.hubSessions().sign(parts...) }

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
	return s.hubSessions().valid(sig, parts...)
}

// cookieScope is where a panel's cookies go: their Path and SameSite mode.
type cookieScope struct {
	path     string
	sameSite string
}

// hubCookies is the hub's scope (Path=/, SameSite=Lax); systemCookies is the /system
// panel's (Path=/system, so a browser never sends them to /admin, SameSite=Strict).
var (
	hubCookies    = cookieScope{path: "/", sameSite: fiber.CookieSameSiteLaxMode}
	systemCookies = cookieScope{path: systemPath, sameSite: fiber.CookieSameSiteStrictMode}
)

// set sets an HttpOnly cookie in the scope, Secure over TLS (or behind a trusted proxy
// that says https).
func (sc cookieScope) set(c *fiber.Ctx, name, value string, exp time.Time) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: sc.path, Expires: exp, HTTPOnly: true,
		SameSite: sc.sameSite, Secure: c.Protocol() == "https"})
}

// clear removes a cookie set by set.
func (sc cookieScope) clear(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: sc.path, Expires: time.Unix(1, 0), MaxAge: -1, HTTPOnly: true,
		SameSite: sc.sameSite, Secure: c.Protocol() == "https"})
}

// sessionCodec is one panel's signed session: the key its cookie values and CSRF
// tokens are signed under, the purpose its session values are signed for, the names of
// its session and sign-in nonce cookies and their scope.
type sessionCodec struct {
	key     []byte
	purpose string
	cookie  string
	login   string
	scope   cookieScope
}

// hubSessions is the /admin panel's codec: the session key, Path=/, SameSite=Lax.
func (s *Server) hubSessions() sessionCodec {
	return sessionCodec{key: s.sessionKey, purpose: "session", cookie: sessionCookie, login: loginCookie, scope: hubCookies}
}

// sign is the hex HMAC-SHA256 of parts under the codec's key.
func (k sessionCodec) sign(parts ...string) string { return macHex(k.key, parts...) }

// valid reports whether sig is the codec's signature of parts.
func (k sessionCodec) valid(sig string, parts ...string) bool {
	return hmac.Equal([]byte(sig), []byte(k.sign(parts...)))
}

// value is the signed cookie value "id|sessionVersion|expiryUnix|hmac".
func (k sessionCodec) value(id uuid.UUID, version int64, exp time.Time) string {
	payload := id.String() + "|" + strconv.FormatInt(version, 10) + "|" + strconv.FormatInt(exp.Unix(), 10)
	return payload + "|" + k.sign(k.purpose, payload)
}

// parse returns the id and session version of a cookie value signed by the codec and
// unexpired at now (whether the version is still the account's is for the caller to check).
func (k sessionCodec) parse(v string, now time.Time) (uuid.UUID, int64, bool) {
	i := strings.LastIndexByte(v, '|')
	if i < 0 {
		return uuid.Nil, 0, false
	}
	payload, sig := v[:i], v[i+1:]
	if !k.valid(sig, k.purpose, payload) {
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

// liveSession returns the account of a live session cookie value: signed by k,
// unexpired, of an account fetch finds whose state says it is enabled and still at the
// session version the cookie carries.
func liveSession[U any](ctx context.Context, k sessionCodec, raw string, fetch func(context.Context, uuid.UUID) (U, error),
	state func(U) (disabled bool, version int64)) (U, bool, error) {
	var none U
	id, version, ok := k.parse(raw, time.Now())
	if !ok {
		return none, false, nil
	}
	u, err := fetch(ctx, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return none, false, nil
	}
	if err != nil {
		return none, false, err
	}
	if disabled, current := state(u); disabled || current != version {
		return none, false, nil
	}
	return u, true, nil
}

// requirePanelSession authenticates a panel request by the codec's session cookie
// (user finds its live account): anonymous requests go to loginPath; every POST must
// carry the session's CSRF token. The account is stored under the local key.
func requirePanelSession[U any](c *fiber.Ctx, k sessionCodec, loginPath, local string,
	user func(context.Context, string) (U, bool, error)) error {
	raw := c.Cookies(k.cookie)
	u, ok, err := user(c.UserContext(), raw)
	if err != nil {
		return err
	}
	if !ok {
		if raw != "" {
			k.scope.clear(c, k.cookie)
		}
		if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
			return c.Redirect(loginPath, fiber.StatusFound)
		}
		return c.Redirect(loginPath, fiber.StatusSeeOther)
	}
	token := k.sign("csrf", raw)
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		if !hmac.Equal([]byte(c.FormValue(csrfField)), []byte(token)) {
			return fiber.NewError(fiber.StatusForbidden, formExpired)
		}
	}
	c.Locals(local, u)
	c.Locals(localCSRF, token)
	return c.Next()
}

// sessionValue is the hub's signed cookie value "userID|sessionVersion|expiryUnix|hmac".
func (s *Server) sessionValue(userID uuid.UUID, version int64, exp time.Time) string {
	return s.hubSessions().value(userID, version, exp)
}

// parseSession returns the user id and session version of a valid, unexpired hub
// session cookie value.
func (s *Server) parseSession(v string, now time.Time) (uuid.UUID, int64, bool) {
	return s.hubSessions().parse(v, now)
}

// sessionUser returns the user of a live session cookie value: well signed, unexpired,
// of an enabled user whose session version is still the one the cookie carries.
func (s *Server) sessionUser(ctx context.Context, raw string) (tenancy.User, bool, error) {
	return liveSession(ctx, s.hubSessions(), raw, s.deps.Tenancy.User,
		func(u tenancy.User) (bool, int64) { return u.Disabled, u.SessionVersion })
}

// setCookie sets an HttpOnly, SameSite=Lax cookie on Path=/, Secure over TLS.
func setCookie(c *fiber.Ctx, name, value string, exp time.Time) { hubCookies.set(c, name, value, exp) }

// clearCookie removes a cookie set by setCookie.
func clearCookie(c *fiber.Ctx, name string) { hubCookies.clear(c, name) }

func randomToken() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// requireSession authenticates an /admin request by its session cookie (its user enabled
// and its session version current, so a logout, password change or disable ends it at
// once): anonymous requests go to the login page; every POST must carry the session's CSRF token.
func (s *Server) requireSession(c *fiber.Ctx) error {
	return requirePanelSession(c, s.hubSessions(), "/admin/login", localUser, s.sessionUser)
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
