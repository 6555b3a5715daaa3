package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzSavedViewURL fuzzes the reduction of a saved view's URL (the form's url field).
// Any input is refused or reduced, never a panic; a reduced URL is an operations list's
// path with only filter parameters, bounded, and reduces to itself. Both sides: a list
// URL built from the input (a tenant's or every tenant's, each filter set, a cursor and
// an unknown parameter) is accepted keeping exactly the filters, or refused when it or
// its reduction is past 1000 bytes; the same filters on an
// absolute URL, a scheme-relative one, another path or past 1000 bytes are refused.
func FuzzSavedViewURL(f *testing.F) {
	for _, s := range []string{"/admin/operations", "/admin/operations?type=inventory.sync&cursor=abc&x=1", "https://evil.example/admin/operations",
		"//evil.example/admin/operations", "/admin/operations/../users", "/admin/t/6ba7b810-9dad-11d1-80b4-00c04fd430c8/operations?q=a%3A1",
		"/admin/operations?%zz", "/admin/operations#x", "javascript:alert(1)",
		"/admin/operations?q=" + strings.Repeat("!", 900)} { // 920 bytes sent, 2,720 once "!" is escaped
		f.Add(s, "value", uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw, s string, pick uint8) {
		if out, err := savedViewURL(raw); err == nil {
			u, perr := url.Parse(out)
			if perr != nil || u.IsAbs() || u.Host != "" || !viewPath.MatchString(u.Path) || u.Fragment != "" || len(out) > maxViewURL {
				t.Fatalf("savedViewURL(%q) = %q, not an operations list URL", raw, out)
			}
			for k := range u.Query() {
				if !strings.Contains(" "+strings.Join(viewParams, " ")+" ", " "+k+" ") {
					t.Fatalf("savedViewURL(%q) = %q keeps %q", raw, out, k)
				}
			}
			if again, err := savedViewURL(out); err != nil || again != out {
				t.Fatalf("savedViewURL(%q) = %q, which reduces to %q, %v", raw, out, again, err)
			}
		}

		s = strings.ToValidUTF8(s, "")
		s = strings.ToValidUTF8(s[:min(len(s), 100)], "")
		if s == "" {
			s = "v"
		}
		path := "/admin/operations"
		if pick%2 == 1 {
			path = "/admin/t/" + uuid.NewSHA1(uuid.Nil, []byte(s)).String() + "/operations"
		}
		q := url.Values{"cursor": {"abc"}, "other": {s}}
		want := url.Values{}
		for i, k := range viewParams {
			if int(pick)>>1&(1<<i) != 0 {
				q.Set(k, s)
				want.Set(k, s)
			}
		}
		wantURL := path
		if len(want) > 0 {
			wantURL += "?" + want.Encode()
		}
		// Filters past the bound (each value escaped can be 3× its 100 bytes) are refused whole.
		if in := path + "?" + q.Encode(); len(in) > maxViewURL || len(wantURL) > maxViewURL {
			if got, err := savedViewURL(in); err == nil {
				t.Fatalf("savedViewURL(%q) = %q, want it refused past %d bytes", in, got, maxViewURL)
			}
		} else if got, err := savedViewURL(in); err != nil || got != wantURL {
			t.Fatalf("savedViewURL(%q) = %q, %v; want %q", in, got, err, wantURL)
		}
		for _, bad := range []string{"https://hub.example" + path + "?" + q.Encode(), "//hub.example" + path, path + "/x?" + q.Encode(),
			strings.Replace(path, "/admin", "/system", 1), path + "?q=" + strings.Repeat("a", 1000)} {
			if got, err := savedViewURL(bad); err == nil {
				t.Fatalf("savedViewURL(%q) = %q, want it refused", bad, got)
			}
		}
	})
}
