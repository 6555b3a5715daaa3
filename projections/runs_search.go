package projections

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"
)

// The search of a run list (the q parameter of the hub's lists and GET /api/v1/operations).
//
// Grammar: up to MaxSearchTerms terms separated by spaces, every term must match (AND):
//
//	id:PREFIX        the run id starts with PREFIX (hex digits, dashes ignored)
//	PREFIX           a bare term of 4–36 hex digits and dashes is the same as id:PREFIX
//	initiator:NAME   the initiator's name equals NAME, case-insensitive
//	KEY:VALUE        the run's context holds VALUE at its top-level KEY, either as the
//	                 string itself or inside an array of strings (JSON containment)
//
// A value with spaces is written in double quotes (initiator:"Ada Lovelace"). Two
// aliases spell the common context keys: schedule (scheduleId) and policyType
// (policyTypes). KEY is a letter then up to 63 letters, digits or underscores.

// MaxSearchLen is the longest search accepted, in bytes.
const MaxSearchLen = 200

// MaxSearchTerms is the most terms one search may have.
const MaxSearchTerms = 8

// ErrBadSearch is wrapped by ParseRunSearch's errors: a search this grammar cannot read.
var ErrBadSearch = errors.New("projections: bad search")

// ErrSearchTimeout is returned when a search ran past its statement timeout.
var ErrSearchTimeout = errors.New("projections: search timed out")

// RunSearch is a parsed search: every set part must match.
type RunSearch struct {
	// IDPrefix is the lower-case hex digits a run id starts with ("" = any).
	IDPrefix string
	// Initiator is the initiator's name, matched case-insensitively ("" = any).
	Initiator string
	// Context are the context terms: the run's context holds each value at its key.
	Context []ContextTerm
}

// ContextTerm is one KEY:VALUE of a search.
type ContextTerm struct {
	// Key is the top-level context key.
	Key string
	// Value is the string the key holds (or an array of strings holds).
	Value string
}

// Empty reports whether the search selects every run.
func (s RunSearch) Empty() bool { return s.IDPrefix == "" && s.Initiator == "" && len(s.Context) == 0 }

// searchAliases are the short spellings of common context keys.
var searchAliases = map[string]string{"schedule": "scheduleId", "policyType": "policyTypes"}

var (
	searchKey    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	searchPrefix = regexp.MustCompile(`^[0-9a-fA-F-]{1,36}$`)
	bareIDPrefix = regexp.MustCompile(`^[0-9a-fA-F-]{4,36}$`)
)

// ParseRunSearch reads a search (see the grammar above); every error wraps ErrBadSearch
// and its text, after the prefix, says what is wrong in words a user can act on.
func ParseRunSearch(q string) (RunSearch, error) {
	var s RunSearch
	if len(q) > MaxSearchLen {
		return s, fmt.Errorf("%w: the search is longer than %d characters", ErrBadSearch, MaxSearchLen)
	}
	terms, err := splitSearch(q)
	if err != nil {
		return s, err
	}
	if len(terms) > MaxSearchTerms {
		return s, fmt.Errorf("%w: the search has more than %d terms", ErrBadSearch, MaxSearchTerms)
	}
	for _, t := range terms {
		key, value, ok := strings.Cut(t, ":")
		if !ok {
			if !bareIDPrefix.MatchString(t) || strings.Trim(t, "-") == "" {
				return s, fmt.Errorf("%w: %q is neither a run id prefix (4 or more hex digits) nor key:value", ErrBadSearch, t)
			}
			key, value = "id", t
		}
		value = strings.Trim(value, `"`)
		if value == "" {
			return s, fmt.Errorf("%w: %q has no value after the colon", ErrBadSearch, t)
		}
		switch key {
		case "id":
			if !searchPrefix.MatchString(value) {
				return s, fmt.Errorf("%w: a run id prefix is hex digits (0-9, a-f) and dashes", ErrBadSearch)
			}
			p := strings.ToLower(strings.ReplaceAll(value, "-", ""))
			if p == "" || len(p) > 32 {
				return s, fmt.Errorf("%w: a run id prefix is 1 to 32 hex digits", ErrBadSearch)
			}
			s.IDPrefix = p
		case "initiator":
			s.Initiator = value
		default:
			if alias, ok := searchAliases[key]; ok {
				key = alias
			}
			if !searchKey.MatchString(key) {
				return s, fmt.Errorf("%w: %q is not a context key (a letter, then letters, digits or _)", ErrBadSearch, key)
			}
			s.Context = append(s.Context, ContextTerm{Key: key, Value: value})
		}
	}
	return s, nil
}

// splitSearch splits q at spaces outside double quotes.
func splitSearch(q string) ([]string, error) {
	var terms []string
	var cur strings.Builder
	quoted := false
	for _, r := range q {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case (r == ' ' || r == '\t') && !quoted:
			if cur.Len() > 0 {
				terms = append(terms, cur.String())
				cur.Reset()
			}
		case r < 0x20 || r == 0x7f:
			return nil, fmt.Errorf("%w: the search holds a control character", ErrBadSearch)
		default:
			cur.WriteRune(r)
		}
	}
	if quoted {
		return nil, fmt.Errorf("%w: a double quote is not closed", ErrBadSearch)
	}
	if cur.Len() > 0 {
		terms = append(terms, cur.String())
	}
	return terms, nil
}

// idRange is the first and last run id starting with the hex prefix p: a range on the
// primary key instead of a text LIKE over every id.
func idRange(p string) (lo, hi uuid.UUID) {
	lo = uuid.MustParse(dashed(p + strings.Repeat("0", 32-len(p))))
	hi = uuid.MustParse(dashed(p + strings.Repeat("f", 32-len(p))))
	return lo, hi
}

func dashed(h string) string {
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// containment is the two JSON documents a context term matches by @>: the value itself,
// or an array holding it.
func containment(t ContextTerm) (scalar, array string, err error) {
	a, err := gojson.Marshal(map[string]string{t.Key: t.Value})
	if err != nil {
		return "", "", err
	}
	b, err := gojson.Marshal(map[string][]string{t.Key: {t.Value}})
	return string(a), string(b), err
}
