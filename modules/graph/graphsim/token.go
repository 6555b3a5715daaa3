package graphsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// claims is what a simulator token says: the tenant and client it was issued for and
// when it expires.
type claims struct {
	Tenant string `json:"tid"`
	Client string `json:"appid"`
	Exp    int64  `json:"exp"`
}

func signingKey(cfg Config) []byte {
	k := sha256.Sum256(fmt.Appendf(nil, "graphsim|%d|%s", cfg.Seed, cfg.ClientSecret))
	return k[:]
}

// issue signs a token for tenant and client: "sim." + base64url(claims) + "." + mac.
func (s *Server) issue(tenant, client string, exp time.Time) string {
	body, _ := json.Marshal(claims{Tenant: tenant, Client: client, Exp: exp.Unix()})
	payload := "sim." + base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a token's signature and expiry and returns its claims.
func (s *Server) verify(token string) (claims, bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || !strings.HasPrefix(token, "sim.") {
		return claims{}, false
	}
	payload, sig := token[:i], token[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return claims{}, false
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	if !hmac.Equal(got, m.Sum(nil)) {
		return claims{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(payload, "sim."))
	if err != nil {
		return claims{}, false
	}
	var c claims
	if json.Unmarshal(body, &c) != nil || c.Tenant == "" {
		return claims{}, false
	}
	if s.cfg.Now().Unix() >= c.Exp {
		return claims{}, false
	}
	return c, true
}

// bearer returns the request's bearer token ("" when none).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// tokenError writes an Entra ID (AADSTS) style token error.
func tokenError(w http.ResponseWriter, status int, code string, aadsts int, description string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s", aadsts, description),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          "00000000-0000-0000-0000-000000000000",
		"correlation_id":    "00000000-0000-0000-0000-000000000000",
	})
}

// serveToken is the client-credentials token endpoint of one tenant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	f := s.snapshotFaults(tenant)
	sleep(r, f.Latency)
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	secret := r.PostForm.Get("client_secret")
	leak := ""
	if f.LeakToken {
		leak = " Received client_secret=" + secret + "."
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."+leak)
	case r.PostForm.Get("client_id") == "":
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."+leak)
	case secret != s.cfg.ClientSecret:
		tokenError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."+leak)
	case !strings.HasSuffix(r.PostForm.Get("scope"), "/.default"):
		tokenError(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."+leak)
	case f.ConsentMissing:
		tokenError(w, http.StatusBadRequest, "invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '"+r.PostForm.Get("client_id")+"'. Send an interactive authorization request for this user and resource."+leak)
	default:
		exp := s.cfg.Now().Add(s.cfg.TokenTTL)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store, no-cache")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type":     "Bearer",
			"expires_in":     int(s.cfg.TokenTTL / time.Second),
			"ext_expires_in": int(s.cfg.TokenTTL / time.Second),
			"access_token":   s.issue(tenant, r.PostForm.Get("client_id"), exp),
		})
	}
}
