package tenancy

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantatlas/ops/modules/graph"
)

// letters keeps the ASCII lower-case letters of s (at most n), or "x" when there are none.
func letters(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// FuzzWellFormedToken: an accepted token is the prefix and 32..128 base64url characters;
// and a token built from the input that is one is accepted, the same spoiled refused.
func FuzzWellFormedToken(f *testing.F) {
	for _, s := range []string{"", "atl_", "Bearer x", "atl_" + strings.Repeat("A", 43), "atl_" + strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if wellFormedToken(s) {
			body := strings.TrimPrefix(s, TokenPrefix)
			if !strings.HasPrefix(s, TokenPrefix) || len(body) < minTokenBody || len(body) > maxTokenBody {
				t.Fatalf("accepted %q", s)
			}
			if strings.TrimFunc(body, func(r rune) bool {
				return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
			}) != "" {
				t.Fatalf("accepted %q with characters outside base64url", s)
			}
		}
		body := base64.RawURLEncoding.EncodeToString([]byte(s + strings.Repeat("k", 24)))
		body = body[:min(len(body), maxTokenBody)]
		if !wellFormedToken(TokenPrefix + body) {
			t.Fatalf("refused the well-formed %q", TokenPrefix+body)
		}
		for _, bad := range []string{body, TokenPrefix + body[:minTokenBody-1], TokenPrefix + body + "!",
			TokenPrefix + body + strings.Repeat("A", maxTokenBody), " " + TokenPrefix + body} {
			if wellFormedToken(bad) {
				t.Fatalf("accepted the malformed %q", bad)
			}
		}
	})
}

// FuzzNormalizeEmail: an accepted address is lower-case, trimmed and idempotent; an
// address built from the input is accepted (lower-cased), the same without its @, with
// two, with a display name or too long refused.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"", "a@b.c", " A@B.C ", "Vic <v@x.y>", "a@b@c", "\"q\"@x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := normalizeEmail(s); err == nil {
			if e != strings.ToLower(e) || strings.TrimSpace(e) != e || !strings.Contains(e, "@") {
				t.Fatalf("normalizeEmail(%q) = %q", s, e)
			}
			again, err := normalizeEmail(e)
			if err != nil || again != e {
				t.Fatalf("normalizeEmail is not idempotent on %q: %q, %v", e, again, err)
			}
		}
		local, domain := letters(s, 30), letters(strings.ToLower(s)+"d", 20)
		addr := " " + strings.ToUpper(local) + "@" + domain + ".example "
		if e, err := normalizeEmail(addr); err != nil || e != local+"@"+domain+".example" {
			t.Fatalf("normalizeEmail(%q) = %q, %v", addr, e, err)
		}
		for _, bad := range []string{local + domain + ".example", local + "@" + domain + "@example", "Name <" + local + "@" + domain + ".example>",
			strings.Repeat(local, 255/len(local)+1) + "@" + domain + ".example"} {
			if e, err := normalizeEmail(bad); err == nil {
				t.Fatalf("normalizeEmail(%q) = %q, want refused", bad, e)
			}
		}
	})
}

// FuzzCheckGraphBaseURL: an accepted URL is a plain http(s) base URL (http only on
// loopback); an https URL built from the input is accepted without its trailing slash,
// the same with credentials, a query, a fragment, another scheme or plain http off
// loopback refused.
func FuzzCheckGraphBaseURL(f *testing.F) {
	for _, s := range []string{"", "http://127.0.0.1:8080/", "https://graph.microsoft.com", "https://u:p@x", "/x", "https://x/?q=1", "http://graph.example", "http://[::1]:9/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if u, err := checkGraphBaseURL(s); err == nil && u != "" {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("checkGraphBaseURL(%q) = %q", s, u)
			}
			if strings.HasPrefix(u, "http://") && graph.CheckEndpoint(u) != nil {
				t.Fatalf("checkGraphBaseURL(%q) = %q, plain http off loopback", s, u)
			}
			parsed, err := url.Parse(u)
			if err != nil || parsed.User != nil || parsed.RawQuery != "" || parsed.Host == "" {
				t.Fatalf("checkGraphBaseURL(%q) = %q, which is not a plain base URL", s, u)
			}
		}
		base := "https://" + letters(s, 20) + ".example/" + letters(strings.ToLower(s)+"v", 10)
		if u, err := checkGraphBaseURL(base + "/"); err != nil || u != base {
			t.Fatalf("checkGraphBaseURL(%q) = %q, %v; want %q", base+"/", u, err, base)
		}
		for _, bad := range []string{strings.Replace(base, "https://", "https://u:p@", 1), base + "?q=1", base + "#f",
			strings.Replace(base, "https://", "ftp://", 1), strings.Replace(base, "https://", "http://", 1)} {
			if u, err := checkGraphBaseURL(bad); err == nil {
				t.Fatalf("checkGraphBaseURL(%q) = %q, want refused", bad, u)
			}
		}
	})
}
