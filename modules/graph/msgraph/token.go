package msgraph

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	absauth "github.com/microsoft/kiota-abstractions-go/authentication"

	"github.com/tenantatlas/ops/modules/graph"
)

// tokenProvider is kiota's AccessTokenProvider for one connection. It is used instead of
// azidentity's ClientSecretCredential, which accepts plain http only for localhost and
// brings its own retry policy; this one speaks the client-credentials grant directly,
// through graph.RetryTransport.
type tokenProvider struct {
	cache *tokenCache
	conn  graph.Connection
	hosts *absauth.AllowedHostsValidator
}

// GetAuthorizationToken returns a cached or fresh access token for the connection's
// tenant. Hosts other than the connection's Graph host get no token.
func (p *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if u == nil || !p.hosts.IsUrlHostValid(u) {
		return "", nil
	}
	return p.cache.token(ctx, p.conn)
}

// GetAllowedHostsValidator returns the one Graph host of the connection.
func (p *tokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	return p.hosts
}

// tokenCache holds one access token per (tenant, client, secret reference, token URL).
// Concurrent callers of one key wait for a single token request.
type tokenCache struct {
	http       *http.Client
	getenv     func(string) string
	secretsDir string
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry
}

type tokenKey struct{ tenant, client, secretRef, tokenURL string }

type tokenEntry struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

// refreshMargin renews a token this long before it expires.
const refreshMargin = 2 * time.Minute

func newTokenCache(c *http.Client, getenv func(string) string, secretsDir string, log *slog.Logger) *tokenCache {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &tokenCache{http: c, getenv: getenv, secretsDir: secretsDir, log: log, now: time.Now, entries: map[tokenKey]*tokenEntry{}}
}

// tokenURL is the client-credentials endpoint of conn's tenant.
func tokenURL(conn graph.Connection) string {
	base := LoginBaseURL
	if conn.BaseURL != "" {
		base = strings.TrimRight(conn.BaseURL, "/")
	}
	return base + "/" + url.PathEscape(conn.EntraTenantID) + "/oauth2/v2.0/token"
}

func keyOf(conn graph.Connection) tokenKey {
	return tokenKey{conn.EntraTenantID, conn.ClientID, conn.SecretRef, tokenURL(conn)}
}

func (tc *tokenCache) entry(conn graph.Connection) *tokenEntry {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	k := keyOf(conn)
	e, ok := tc.entries[k]
	if !ok {
		e = &tokenEntry{}
		tc.entries[k] = e
	}
	return e
}

// forget drops conn's cached token (Graph answered 401 with it).
func (tc *tokenCache) forget(conn graph.Connection) {
	e := tc.entry(conn)
	e.mu.Lock()
	e.token, e.expires = "", time.Time{}
	e.mu.Unlock()
}

// token returns conn's cached token, or requests a new one.
func (tc *tokenCache) token(ctx context.Context, conn graph.Connection) (string, error) {
	e := tc.entry(conn)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.token != "" && tc.now().Before(e.expires.Add(-refreshMargin)) {
		return e.token, nil
	}
	tok, ttl, err := tc.fetch(ctx, conn)
	if err != nil {
		return "", err
	}
	e.token, e.expires = tok, tc.now().Add(ttl)
	tc.log.Debug("graph token issued", "tenant", conn.EntraTenantID, "client", conn.ClientID, "expires_in", ttl)
	return tok, nil
}

// tokenAnswer is the token endpoint's JSON, success or failure.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   any    `json:"expires_in"` // a number, or a string from some endpoints
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

// fetch runs the client-credentials grant. Failures are *graph.Error with fixed text.
func (tc *tokenCache) fetch(ctx context.Context, conn graph.Connection) (string, time.Duration, error) {
	// The endpoint and the secret are checked before anything is sent: a refused one
	// sends nothing at all.
	endpoint := tokenURL(conn)
	if err := graph.CheckEndpoint(endpoint); err != nil {
		return "", 0, &graph.Error{Kind: graph.KindInvalidClient, Message: "the token endpoint was refused: " + err.Error()}
	}
	secret, err := graph.ResolveSecret(conn.SecretRef, tc.secretsDir, tc.getenv)
	if err != nil {
		// err names the rule broken, never the secret (graph.ResolveSecret's contract).
		return "", 0, &graph.Error{Kind: graph.KindInvalidClient, Message: "the client secret could not be resolved: " + err.Error()}
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {conn.ClientID},
		"client_secret": {secret},
		"scope":         {GraphScope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &graph.Error{Kind: graph.KindInvalidClient, Message: "the token endpoint URL is invalid"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := tc.http.Do(req)
	if err != nil {
		if ce := graph.ErrorFromContext("", ctx.Err()); ce != nil {
			return "", 0, ce
		}
		return "", 0, &graph.Error{Kind: graph.KindRequestFailed, Message: "the token endpoint could not be reached"}
	}
	defer resp.Body.Close()
	var ans tokenAnswer
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans)
	if resp.StatusCode == http.StatusOK && ans.AccessToken != "" {
		return ans.AccessToken, expiresIn(ans.ExpiresIn), nil
	}
	return "", 0, tokenFailure(resp.StatusCode, ans)
}

// expiresIn reads expires_in (seconds); one minute when absent or unreadable.
func expiresIn(v any) time.Duration {
	var secs float64
	switch x := v.(type) {
	case float64:
		secs = x
	case string:
		secs, _ = strconv.ParseFloat(x, 64)
	}
	if secs <= 0 {
		return time.Minute + refreshMargin
	}
	return time.Duration(secs) * time.Second
}

// tokenFailure maps a token endpoint refusal. The AADSTS description is inspected for
// the consent code, never copied: it can echo what was sent.
func tokenFailure(status int, ans tokenAnswer) *graph.Error {
	code := safeCode(ans.Error)
	aadsts := ""
	if len(ans.Codes) > 0 {
		aadsts = "AADSTS" + strconv.Itoa(ans.Codes[0])
	}
	label := strings.Trim(strings.Join([]string{code, aadsts}, " "), " ")
	withLabel := func(kind graph.Kind, text string) *graph.Error {
		if label != "" {
			text = label + ": " + text
		}
		return &graph.Error{Kind: kind, Status: status, Message: text}
	}
	consent := slices.Contains(ans.Codes, 65001) || strings.Contains(ans.Description, "AADSTS65001") || code == "consent_required"
	switch {
	case consent:
		return withLabel(graph.KindConsentMissing, "the token endpoint refused: the app has no admin consent in this tenant")
	case status == http.StatusTooManyRequests:
		return withLabel(graph.KindThrottled, "the token endpoint kept throttling after the bounded retries")
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return withLabel(graph.KindUnavailable, "the token endpoint stayed unavailable after the bounded retries")
	case code == "invalid_client" || code == "unauthorized_client" || code == "invalid_request" && status == http.StatusBadRequest ||
		status == http.StatusUnauthorized || slices.Contains(ans.Codes, 90002) || slices.Contains(ans.Codes, 700016):
		return withLabel(graph.KindInvalidClient, "the token endpoint did not accept the tenant, client id or secret")
	default:
		return withLabel(graph.KindRequestFailed, "the token endpoint refused the request")
	}
}
