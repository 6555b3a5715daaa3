package projections_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/tenantatlas/ops/projections"
)

// renderSearch spells a parsed search back in the grammar (values quoted), or reports
// false when a value holds a double quote, which the grammar cannot spell inside one.
func renderSearch(s projections.RunSearch) (string, bool) {
	var terms []string
	add := func(k, v string) bool {
		if strings.Contains(v, `"`) {
			return false
		}
		terms = append(terms, k+`:"`+v+`"`)
		return true
	}
	if s.IDPrefix != "" {
		terms = append(terms, "id:"+s.IDPrefix)
	}
	if s.Initiator != "" && !add("initiator", s.Initiator) {
		return "", false
	}
	for _, c := range s.Context {
		if !add(c.Key, c.Value) {
			return "", false
		}
	}
	return strings.Join(terms, " "), true
}

var (
	fuzzSearchKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	fuzzHexPrefix = regexp.MustCompile(`^[0-9a-f]{1,32}$`)
)

// FuzzParseRunSearch: any search parses or is refused with ErrBadSearch, never panics,
// and a parsed one is bounded (at most MaxSearchTerms terms, a lower-case hex id prefix
// of at most 32 digits, plain keys, no empty value) and reads back the same when spelled
// again. Both sides: a key:"value" term built from the input (a plain key, a value
// without quotes or control characters) is accepted as exactly that term, and the same
// term with a control character, an unclosed quote, a bad key or one term too many is
// refused.
func FuzzParseRunSearch(f *testing.F) {
	for _, s := range []string{"", "deadbeef", `policyType:deviceConfiguration initiator:"Ada Lovelace" id:0A1B-2c schedule:42`,
		"id:xyz", `initiator:"open`, "a:1 b:2 c:3 d:4 e:5 f:6 g:7 h:8 i:9", "1bad:key", "key:", "a\x00b:1", "----",
		`k:"a"b"`, "\xff:1", "x:\xff", `"id":1`, "tenant:\"a\tb\""} {
		f.Add(s, "key", "value")
	}
	f.Fuzz(func(t *testing.T, q, key, value string) {
		s, err := projections.ParseRunSearch(q)
		if err != nil {
			if !errors.Is(err, projections.ErrBadSearch) {
				t.Fatalf("ParseRunSearch(%q): %v does not wrap ErrBadSearch", q, err)
			}
		} else {
			checkSearch(t, q, s)
			if again, ok := renderSearch(s); ok && len(again) <= projections.MaxSearchLen {
				s2, err := projections.ParseRunSearch(again)
				if err != nil || !equalSearch(s, s2) {
					t.Fatalf("ParseRunSearch(%q) = %+v; spelled again %q reads %+v, %v", q, s, again, s2, err)
				}
			}
		}

		// Accepted: a plain key and a value without quotes or control characters.
		key = strings.Map(func(r rune) rune {
			if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
				return r
			}
			return -1
		}, key)
		key = "k" + key[:min(len(key), 60)]
		value = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || r == '"' || r == utf8RuneError {
				return -1
			}
			return r
		}, strings.ToValidUTF8(value, ""))
		if len(value) > 100 {
			value = strings.ToValidUTF8(value[:100], "")
		}
		if value == "" {
			value = "v"
		}
		term := key + `:"` + value + `"`
		s, err = projections.ParseRunSearch(term)
		if err != nil || len(s.Context) != 1 || s.Context[0] != (projections.ContextTerm{Key: key, Value: value}) || s.IDPrefix != "" || s.Initiator != "" {
			t.Fatalf("ParseRunSearch(%q) = %+v, %v; want the one context term", term, s, err)
		}
		// Refused: the same term spoiled.
		for _, bad := range []string{
			key + `:"` + value + "\x01\"",
			key + `:"` + value,
			"9" + term,
			strings.Repeat(term+" ", projections.MaxSearchTerms) + term,
			term + " " + strings.Repeat("x", projections.MaxSearchLen),
		} {
			if _, err := projections.ParseRunSearch(bad); !errors.Is(err, projections.ErrBadSearch) {
				t.Fatalf("ParseRunSearch(%q) accepted a bad search: %v", bad, err)
			}
		}
	})
}

const utf8RuneError = '\uFFFD'

func checkSearch(t *testing.T, q string, s projections.RunSearch) {
	t.Helper()
	if len(s.Context) > projections.MaxSearchTerms {
		t.Fatalf("ParseRunSearch(%q): %d context terms", q, len(s.Context))
	}
	if s.IDPrefix != "" && !fuzzHexPrefix.MatchString(s.IDPrefix) {
		t.Fatalf("ParseRunSearch(%q): id prefix %q", q, s.IDPrefix)
	}
	for _, c := range s.Context {
		if !fuzzSearchKey.MatchString(c.Key) || c.Value == "" || c.Key == "id" || c.Key == "initiator" {
			t.Fatalf("ParseRunSearch(%q): context term %+v", q, c)
		}
	}
	if strings.ContainsFunc(s.Initiator+func() string {
		var b strings.Builder
		for _, c := range s.Context {
			b.WriteString(c.Value)
		}
		return b.String()
	}(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Fatalf("ParseRunSearch(%q) = %+v holds a control character", q, s)
	}
}

func equalSearch(a, b projections.RunSearch) bool {
	if a.IDPrefix != b.IDPrefix || a.Initiator != b.Initiator || len(a.Context) != len(b.Context) {
		return false
	}
	for i := range a.Context {
		if a.Context[i] != b.Context[i] {
			return false
		}
	}
	return true
}
