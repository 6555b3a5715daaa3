package tenancy

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tenantatlas/ops/modules/graph"
)

func FuzzWellFormedToken(f *testing.F) {
	for _, s := range []string{"", "atl_", "Bearer x", "atl_" + strings.Repeat("A", 43), "atl_" + strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !wellFormedToken(s) {
			return
		}
		body := strings.TrimPrefix(s, TokenPrefix)
		if !strings.HasPrefix(s, TokenPrefix) || len(body) < minTokenBody || len(body) > maxTokenBody {
			t.Fatalf("accepted %q", s)
		}
		if strings.TrimFunc(body, func(r rune) bool {
			return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		}) != "" {
			t.Fatalf("accepted %q with characters outside base64url", s)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"", "a@b.c", " A@B.C ", "Vic <v@x.y>", "a@b@c", "\"q\"@x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := normalizeEmail(s)
		if err != nil {
			return
		}
		if e != strings.ToLower(e) || strings.TrimSpace(e) != e || !strings.Contains(e, "@") {
			t.Fatalf("normalizeEmail(%q) = %q", s, e)
		}
		again, err := normalizeEmail(e)
		if err != nil || again != e {
			t.Fatalf("normalizeEmail is not idempotent on %q: %q, %v", e, again, err)
		}
	})
}

func FuzzCheckGraphBaseURL(f *testing.F) {
	for _, s := range []string{"", "http://127.0.0.1:8080/", "https://graph.microsoft.com", "https://u:p@x", "/x", "https://x/?q=1", "http://graph.example", "http://[::1]:9/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := checkGraphBaseURL(s)
		if err != nil || u == "" {
			return
		}
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
	})
}
