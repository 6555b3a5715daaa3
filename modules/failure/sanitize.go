package failure

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMessageLen is the longest sanitized message in runes, not counting the "…" that
// marks a cut.
const MaxMessageLen = 500

const (
	// redactedMarker replaces every secret.
	redactedMarker = "[redacted]"
	// payloadMarker replaces a raw JSON payload dump.
	payloadMarker = "[payload omitted]"
	// ellipsis marks a cut message.
	ellipsis = "…"
	// maxInputBytes bounds the work done on huge inputs; the rest is dropped up front.
	maxInputBytes = 16 << 10
	// payloadMinLen is the length above which a JSON object or array is a payload dump.
	payloadMinLen = 200
	// blobMinLen is the shortest bare run of base64/hex that can be a key.
	blobMinLen = 32
	// maxPasses bounds the passes Sanitize makes to reach a fixed point.
	maxPasses = 8
)

// Sanitize makes an error message safe to store in a failure, an event, a notification
// or a log line: it is never a way out for a credential or a payload.
//
// It flattens the message to one line (control, format and line-separator characters
// go; whitespace runs become one space; invalid UTF-8 becomes U+FFFD), then replaces
// with "[redacted]": URL userinfo (scheme://user:pass@), the value of every secret-like
// key in key=value, key: value, "key":"value" and escaped-JSON forms (password, pwd,
// secret, client_secret, api keys, *token, sig, signature, assertion, Authorization and
// Cookie headers with their scheme, connection-string passwords up to the next ";", and
// code/key only as key=value; keys holding secret, password or credential and the key
// "key" when quoted, JSON style; URL-encoded delimiters and quotes count the same),
// Bearer tokens, bare Basic credentials, JWTs, hex runs of 32+ characters mixing
// letters and digits, and random-looking base64 runs of 32+ characters. A JSON object or array longer than 200
// characters becomes "[payload omitted]". The result is cut to MaxMessageLen runes at a
// rune boundary (never inside a marker) with "…" appended.
//
// Sanitize is idempotent: Sanitize(Sanitize(x)) == Sanitize(x). See
// specs/002-operation-runs/reason-codes.md for the rules and their trade-offs.
func Sanitize(msg string) string {
	s := precut(msg)
	for range maxPasses {
		next := truncate(collapsePayloads(redact(normalize(s))))
		if next == s {
			break
		}
		s = next
	}
	return s
}

// New builds a failure entry from a reason code and a raw message, sanitized. An
// unknown code becomes UnknownError and the original code is kept, sanitized, at the
// front of the message so the information is not lost.
func New(code Code, msg string) Entry {
	if !code.Known() {
		if code != "" {
			msg = string(code) + ": " + msg
		}
		code = UnknownError
	}
	return Entry{ReasonCode: code, Message: Sanitize(msg)}
}

// precut bounds the input: past maxInputBytes it is cut back to a space, so no partial
// token survives at the cut, and marked with an ellipsis.
func precut(s string) string {
	if len(s) <= maxInputBytes {
		return s
	}
	cut := maxInputBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if sp := strings.LastIndexFunc(s[:cut], unicode.IsSpace); sp > cut-1024 && sp > 0 {
		cut = sp
	}
	return s[:cut] + " " + ellipsis
}

// normalize makes s valid UTF-8 on one line with single spaces and no invisible
// characters, trimmed; runs of four or more of one ASCII punctuation or symbol
// character (the "-----" rulers of SDK errors) shrink to three, so that they do not eat
// the length budget.
func normalize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	var prev rune
	run := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Cf, r):
			continue
		case unicode.IsControl(r) || unicode.IsSpace(r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			prev, run = ' ', 0
		}
		space = false
		if r == prev {
			run++
		} else {
			prev, run = r, 1
		}
		if run > 3 && r < utf8.RuneSelf && (unicode.IsPunct(r) || unicode.IsSymbol(r)) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// redact applies the secret rules in order; see Sanitize.
func redact(s string) string {
	s = replaceSpans(s, userinfoSpans(s))
	s = redactKeyValues(s)
	if containsFold(s, "bearer") {
		s = replaceGroup(bearerRe, s, 2)
	}
	if containsFold(s, "basic") {
		s = redactBasic(s)
	}
	s = replaceSpans(s, eyJSpans(s))
	if longestRun(s, isJWTChar) >= 3*16+2 {
		s = replaceGroup(jwtGenericRe, s, 0)
	}
	return redactBlobs(s)
}

var (
	// bearerRe finds a Bearer token (group 2).
	bearerRe = regexp.MustCompile(`(?i)(\bbearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)`)
	// jwtGenericRe finds three or more long base64url segments joined by dots.
	jwtGenericRe = regexp.MustCompile(`[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]{16,}){2,}=*`)
)

// basicRe finds a bare "Basic <credentials>" (group 2), the credentials being
// base64 (or base64url) of 8+ characters.
var basicRe = regexp.MustCompile(`(?i)(\bbasic\s+)([A-Za-z0-9+/_-]{8,}={0,2})`)

// redactBasic replaces the credentials of a bare "Basic <base64>" that basicLike
// accepts: "Basic authentication is disabled" stays.
func redactBasic(s string) string {
	ms := basicRe.FindAllStringSubmatchIndex(s, -1)
	var spans [][2]int
	for _, m := range ms {
		if end := m[5]; (end == len(s) || !isTokenChar(s[end])) && basicLike(s[m[4]:end]) {
			spans = append(spans, [2]int{m[4], end})
		}
	}
	return replaceSpans(s, spans)
}

// basicLike reports whether v looks like Basic credentials rather than a word: it
// decodes as base64 to text holding "user:password", or it has a digit, "+", "/",
// "=", "_", "-" or an upper-case letter past the first character.
func basicLike(v string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && bytes.IndexByte(b, ':') >= 0 {
			return true
		}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' || strings.IndexByte("+/=_-", c) >= 0 || i > 0 && c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// userinfoSpans returns the userinfo of every URL in s: scheme://userinfo@host, up to
// the last "@" before the path, query, fragment or a space.
func userinfoSpans(s string) [][2]int {
	var out [][2]int
	for off := 0; ; {
		i := strings.Index(s[off:], "://")
		if i < 0 {
			return out
		}
		i += off
		off = i + 3
		p := i
		for p > 0 && (isAlnum(s[p-1]) || strings.IndexByte("+.-", s[p-1]) >= 0) {
			p--
		}
		for p < i && !(s[p]|0x20 >= 'a' && s[p]|0x20 <= 'z') {
			p++
		}
		if p == i {
			continue // no scheme
		}
		end := off
		for end < len(s) && strings.IndexByte(" /?#", s[end]) < 0 {
			end++
		}
		if at := strings.LastIndexByte(s[off:end], '@'); at > 0 {
			out = append(out, [2]int{off, off + at})
		}
	}
}

// isJWTSegChar reports whether c can be part of a JWT segment (base64url, and the "="
// padding some encoders add).
func isJWTSegChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '=' }

// eyJSpans returns every JWT or JWE recognised by its "eyJ" header (base64 of `{"`):
// a header and a payload of 2+ characters, then any further segments, less trailing
// dots.
func eyJSpans(s string) [][2]int {
	var out [][2]int
	seg := func(j int) int {
		for j < len(s) && isJWTSegChar(s[j]) {
			j++
		}
		return j
	}
	for off := 0; ; {
		i := strings.Index(s[off:], "eyJ")
		if i < 0 {
			return out
		}
		i += off
		off = i + 3
		h := seg(off)
		if h-off < 2 || h >= len(s) || s[h] != '.' {
			continue
		}
		end := seg(h + 1)
		if end-(h+1) < 2 {
			continue
		}
		for end < len(s) && s[end] == '.' {
			end = seg(end + 1)
		}
		for s[end-1] == '.' {
			end-- // a sentence's full stop
		}
		out = append(out, [2]int{i, end})
		off = end
	}
}

// replaceSpans replaces the given ascending, non-overlapping spans of s with the
// redaction marker, skipping empty spans and markers.
func replaceSpans(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	sp := splicer{s: s}
	for _, span := range spans {
		if v := s[span[0]:span[1]]; span[0] < sp.last || v == "" || isMarker(v) {
			continue
		}
		sp.replace(span[0], span[1], redactedMarker)
	}
	return sp.String()
}

// splicer builds s with spans replaced by markers, left to right: each span replaced
// starts at or after the end of the one before (last).
type splicer struct {
	s    string
	b    strings.Builder
	last int // where the last replaced span ended
	done bool
}

// replace puts marker in place of s[from:to].
func (sp *splicer) replace(from, to int, marker string) {
	sp.b.WriteString(sp.s[sp.last:from])
	sp.b.WriteString(marker)
	sp.last, sp.done = to, true
}

// String returns s with the spans replaced; s itself when none was.
func (sp *splicer) String() string {
	if !sp.done {
		return sp.s
	}
	sp.b.WriteString(sp.s[sp.last:])
	return sp.b.String()
}

// containsFold reports whether s contains the lowercase ASCII word w in any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// longestRun returns the length of the longest run of bytes in s that in accepts.
func longestRun(s string, in func(byte) bool) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if in(s[i]) {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// isJWTChar reports whether c is base64url or a dot.
func isJWTChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// isBlobChar reports whether c can be part of a base64, base64url or hex blob (or the
// dots and tildes of an Azure client secret, or URL escapes).
func isBlobChar(c byte) bool { return isAlnum(c) || strings.IndexByte("+/=_.~%-", c) >= 0 }

// isHexChar reports whether c is a hex digit.
func isHexChar(c byte) bool { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' }

// redactBlobs replaces hex runs of blobMinLen+ characters holding letters and digits,
// then base64-ish runs of blobMinLen+ characters that keyLike accepts.
func redactBlobs(s string) string {
	s = replaceRuns(s, isHexChar, func(v string) bool { return hasDigit(v) && hasLetter(v) })
	return replaceRuns(s, isBlobChar, keyLike)
}

// replaceRuns replaces every maximal run of in-bytes of blobMinLen+ characters (less
// trailing dots, which end sentences) that secret accepts with the redaction marker.
func replaceRuns(s string, in func(byte) bool, secret func(string) bool) string {
	if longestRun(s, in) < blobMinLen {
		return s
	}
	sp := splicer{s: s}
	for i := 0; i < len(s); {
		if !in(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && in(s[j]) {
			j++
		}
		v := strings.TrimRight(s[i:j], ".")
		if len(v) >= blobMinLen && !isMarker(v) && secret(v) {
			sp.replace(i, i+len(v), redactedMarker)
		}
		i = j
	}
	return sp.String()
}

// isMarker reports whether v is one of the sanitizer's own markers.
func isMarker(v string) bool { return v == redactedMarker || v == payloadMarker }

// replaceGroup replaces submatch group of every match of re in s with the redaction
// marker, skipping empty values and markers; a whole match (group 0) loses its trailing
// dots first, as those end sentences.
func replaceGroup(re *regexp.Regexp, s string, group int) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	sp := splicer{s: s}
	for _, m := range ms {
		gs, ge := m[2*group], m[2*group+1]
		if gs < sp.last || gs == ge {
			continue
		}
		v := s[gs:ge]
		if group == 0 {
			v = strings.TrimRight(v, ".")
			ge = gs + len(v)
		}
		if v == "" || isMarker(v) {
			continue
		}
		sp.replace(gs, ge, redactedMarker)
	}
	return sp.String()
}

// keyKind is how a key's value is redacted.
type keyKind int

const (
	keyPlain  keyKind = iota + 1 // one value
	keyAuth                      // an Authorization header: scheme and credentials
	keyCookie                    // a Cookie header: every name=value pair
)

// secretSuffixes are key endings (lowercase, without "_" and "-") whose value is secret.
var secretSuffixes = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "accountkey",
	"accesskey", "privatekey", "subscriptionkey", "secretkey", "signingkey", "encryptionkey",
	"masterkey", "sharedkey", "signature", "assertion", "connectionstring",
}

// secretExact are whole keys whose value is secret in any form.
var secretExact = map[string]bool{"sig": true, "sas": true}

// secretExactEquals are whole keys whose value is secret only as key=value (a query
// string or form): "code: Authorization_RequestDenied" is useful context.
var secretExactEquals = map[string]bool{"code": true, "key": true, "pass": true, "auth": true}

// secretExactQuoted are whole keys whose value is secret as a quoted JSON key too
// ("key": "…"); "code" is not among them, Graph's JSON errors carry it.
var secretExactQuoted = map[string]bool{"key": true, "pass": true, "auth": true}

// secretContains are key parts (lowercase, without "_" and "-") that make a quoted
// (JSON) key or a key=value key secret wherever they stand: "secretText",
// "passwordValue", "credentials". Unquoted before ":" they do not: that is how SDKs
// name things ("ClientSecretCredential: authentication failed").
var secretContains = []string{"secret", "password", "passwd", "credential", "privatekey"}

// authSchemes are the HTTP auth schemes whose credentials follow a space.
var authSchemes = map[string]bool{
	"bearer": true, "basic": true, "digest": true, "negotiate": true, "ntlm": true,
	"pop": true, "sharedkey": true, "sharedkeylite": true, "sharedaccesssignature": true,
	"token": true, "mac": true, "hoba": true,
}

// classifyKey says how the value of key (followed by delim; quoted when the key is in
// quotes, JSON style) is redacted, or 0.
func classifyKey(key string, delim byte, quoted bool) keyKind {
	key = strings.TrimRight(key, ".-")
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	var buf [64]byte
	kb := buf[:0]
	for i := 0; i < len(key); i++ {
		if c := key[i]; c != '_' && c != '-' {
			kb = append(kb, c|0x20) // letters and digits only remain; digits are unchanged
		}
	}
	k := string(kb)
	switch {
	case k == "":
		return 0
	case strings.HasSuffix(k, "authorization"):
		return keyAuth
	case strings.HasSuffix(k, "cookie"):
		return keyCookie
	case secretExact[k], delim == '=' && secretExactEquals[k], quoted && secretExactQuoted[k]:
		return keyPlain
	}
	for _, suf := range secretSuffixes {
		if strings.HasSuffix(k, suf) {
			return keyPlain
		}
	}
	for _, part := range secretContains {
		if (quoted || delim == '=') && strings.Contains(k, part) {
			return keyPlain
		}
	}
	return 0
}

// redactKeyValues replaces the values of secret-like keys; see Sanitize.
func redactKeyValues(s string) string {
	if !strings.ContainsAny(s, ":=") && !containsFold(s, "%3a") && !containsFold(s, "%3d") {
		return s
	}
	sp := splicer{s: s}
	for _, m := range idents(s) {
		if m[0] < sp.last {
			continue
		}
		vs, delim, ok := valueStart(s, m[1])
		if !ok {
			continue
		}
		kind := classifyKey(s[m[0]:m[1]], delim, quotedBefore(s, m[0]))
		if kind == 0 {
			continue
		}
		from, to := valueSpan(s, vs, kind, delim)
		if from == to {
			continue
		}
		sp.replace(from, to, redactedMarker)
	}
	return sp.String()
}

// idents returns the spans of the identifiers in s, the candidate keys: a letter or
// "_" followed by letters, digits, "_", "." and "-".
func idents(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if pctEscape(s, i) >= 0 {
			i += 3 // "%2Ckey": the escape's hex letter does not start the key
			continue
		}
		if c := s[i]; !(c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z') {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// isIdentChar reports whether c can continue an identifier.
func isIdentChar(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' }

// isIdent reports whether s is exactly one identifier.
func isIdent(s string) bool {
	ids := idents(s)
	return len(ids) == 1 && ids[0] == [2]int{0, len(s)}
}

// valueStart finds the delimiter after a key ending at e (an optional closing quote,
// possibly escaped or URL-encoded, spaces, then ":" or "=", or their URL escapes "%3A"
// and "%3D") and returns where the value starts.
func valueStart(s string, e int) (int, byte, bool) {
	j := e
	k := j
	for k < len(s) && s[k] == '\\' {
		k++
	}
	if k < len(s) && (s[k] == '"' || s[k] == '\'') {
		j = k + 1
	} else if c := pctEscape(s, j); c == '"' || c == '\'' {
		j += 3
	}
	j = skipSpaces(s, j)
	var delim byte
	switch {
	case j < len(s) && (s[j] == ':' || s[j] == '='):
		delim = s[j]
		j++
	case pctEscape(s, j) == ':' || pctEscape(s, j) == '=':
		delim = byte(pctEscape(s, j))
		j += 3
	default:
		return 0, 0, false
	}
	if delim == ':' && (strings.HasPrefix(s[j:], "//") || strings.HasPrefix(s[j:], ":") || pctEscape(s, j) == '/') {
		return 0, 0, false // a URL scheme or "::"
	}
	return skipSpaces(s, j), delim, true
}

// skipSpaces skips spaces and their URL escape "%20" from i.
func skipSpaces(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ':
			i++
		case pctEscape(s, i) == ' ':
			i += 3
		default:
			return i
		}
	}
	return i
}

// pctEscape returns the byte of the URL escape ("%3D") at s[i], or -1 when there is none.
func pctEscape(s string, i int) int {
	if i+2 >= len(s) || s[i] != '%' || !isHexChar(s[i+1]) || !isHexChar(s[i+2]) {
		return -1
	}
	return int(unhex(s[i+1])<<4 | unhex(s[i+2]))
}

// unhex is the value of the hex digit c.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return (c | 0x20) - 'a' + 10
	}
	return 0
}

// quotedBefore reports whether the key starting at i is in quotes: a quote (possibly
// escaped) or its URL escape "%22" right before it.
func quotedBefore(s string, i int) bool {
	if i > 0 && (s[i-1] == '"' || s[i-1] == '\'') {
		return true
	}
	if i >= 3 {
		c := pctEscape(s, i-3)
		return c == '"' || c == '\''
	}
	return false
}

// isValueEnd reports whether c ends an unquoted value.
func isValueEnd(c byte) bool {
	switch c {
	case ' ', '"', '\'', '`', '&', ';', ',', '<', '>':
		return true
	}
	return false
}

// tokenEnd returns the end of the unquoted token starting at i.
func tokenEnd(s string, i int) int {
	for i < len(s) && !isValueEnd(s[i]) {
		i++
	}
	return i
}

// valueSpan returns the byte range of the value starting at j to replace; from == to
// when there is nothing to redact (no value, a marker, or a nested object whose own
// keys are redacted one by one).
func valueSpan(s string, j int, kind keyKind, delim byte) (from, to int) {
	if j >= len(s) || strings.HasPrefix(s[j:], redactedMarker) || strings.HasPrefix(s[j:], payloadMarker) {
		return j, j
	}
	// Quoted with a URL-encoded quote: %22value%22.
	if q := pctEscape(s, j); q == '"' || q == '\'' {
		start := j + 3
		end := start
		for end < len(s) && pctEscape(s, end) != q && !isValueEnd(s[end]) {
			end++
		}
		if v := s[start:end]; v == "" || isMarker(v) {
			return j, j
		}
		return start, end
	}
	// Quoted, possibly escaped ("\"value\"" inside a JSON string).
	k := j
	for k < len(s) && s[k] == '\\' {
		k++
	}
	if k < len(s) && (s[k] == '"' || s[k] == '\'') {
		start, closing := k+1, s[j:k+1]
		end := closingQuote(s, start, closing)
		if end < len(s) {
			// A quoted string followed by ":" is the next key, not this key's value.
			n := end + len(closing)
			for n < len(s) && s[n] == ' ' {
				n++
			}
			if n < len(s) && s[n] == ':' {
				return j, j
			}
		}
		if v := s[start:end]; v == "" || isMarker(v) {
			return j, j
		}
		return start, end
	}
	// A nested object or array: its own keys are handled as they come.
	if s[j] == '{' || s[j] == '[' {
		n := j + 1
		for n < len(s) && s[n] == ' ' {
			n++
		}
		if n == len(s) || strings.IndexByte(`"'{[]}\`, s[n]) >= 0 {
			return j, j
		}
	}
	end := tokenEnd(s, j)
	if tok := s[j:end]; len(tok) > 1 {
		// "token: password: x", "token: apikey='x'": the token is the next secret key.
		if key, d := tok[:len(tok)-1], tok[len(tok)-1]; (d == ':' || d == '=') &&
			isIdent(key) && classifyKey(key, d, false) != 0 {
			return j, j
		}
	}
	switch kind {
	case keyAuth, keyPlain:
		// "Bearer xyz", "Basic xyz": the scheme and its credentials. Any word opens an
		// Authorization header value.
		word := s[j:end]
		if end+1 < len(s) && s[end] == ' ' && isLetters(word) && (kind == keyAuth || authSchemes[strings.ToLower(word)]) {
			if e2 := tokenEnd(s, end+1); e2 > end+1 {
				end = e2
			}
		}
	case keyCookie:
		// "a=1; b=2": every pair.
		for end+2 < len(s) && s[end] == ';' && s[end+1] == ' ' {
			e2 := tokenEnd(s, end+2)
			if !strings.Contains(s[end+2:e2], "=") {
				break
			}
			end = e2
		}
	}
	// A connection-string password may contain spaces: run on to the ";" that ends it
	// when nothing in between looks like another key or value.
	if kind == keyPlain && delim == '=' && end < len(s) && s[end] == ' ' {
		limit := min(len(s), j+128)
		if p := strings.IndexByte(s[end:limit], ';'); p >= 0 && !strings.ContainsAny(s[end:end+p], "&\"'=<>`") {
			end += p
		}
	}
	if end == j {
		return j, j
	}
	return j, end
}

// closingQuote returns the index of the sequence closing (a quote, possibly escaped)
// that ends the quoted value starting at start, or len(s) when it is never closed. A
// quote directly followed by a token character ("a"b) does not close: it is more likely
// the opening quote of something else.
func closingQuote(s string, start int, closing string) int {
	for i := start; i < len(s); i++ {
		if len(closing) == 1 && s[i] == '\\' {
			i++
			continue
		}
		if !strings.HasPrefix(s[i:], closing) {
			continue
		}
		if n := i + len(closing); n == len(s) || !isTokenChar(s[n]) {
			return i
		}
	}
	return len(s)
}

// isTokenChar reports whether c can be part of an unquoted token or identifier.
func isTokenChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("_.~+/=%@-", c) >= 0
}

// isLetters reports whether w is a non-empty run of ASCII letters.
func isLetters(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// keyLike decides whether a 32+ character base64-ish run is a key rather than a path,
// a dotted name, a GUID or an identifier: its mixed letter-and-digit segments (GUID
// parts excepted) must hold 16+ characters with upper case, lower case and digits and
// switch between those classes at least every 2.5 characters, as random text does.
func keyLike(run string) bool {
	if len(run) < blobMinLen {
		return false
	}
	var chars, pairs, switches int
	var upper, lower, digit bool
	for _, seg := range strings.FieldsFunc(run, func(r rune) bool { return !isAlnum(byte(r)) }) {
		if !hasDigit(seg) || !hasLetter(seg) || (len(seg) <= 12 && isHex(seg)) {
			continue
		}
		chars += len(seg)
		pairs += len(seg) - 1
		for i := 0; i < len(seg); i++ {
			c := charClass(seg[i])
			upper, lower, digit = upper || c == 'A', lower || c == 'a', digit || c == '0'
			if i > 0 && c != charClass(seg[i-1]) {
				switches++
			}
		}
	}
	return chars >= 16 && upper && lower && digit && switches*5 >= pairs*2
}

// charClass is 'A', 'a' or '0' for an ASCII letter or digit.
func charClass(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return 'A'
	case c >= 'a' && c <= 'z':
		return 'a'
	}
	return '0'
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// hasDigit reports whether s holds an ASCII digit.
func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// hasLetter reports whether s holds an ASCII letter.
func hasLetter(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 128 && isAlnum(byte(r)) && !('0' <= r && r <= '9') }) >= 0
}

// isHex reports whether s is all hex digits.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; !(s[i] >= '0' && s[i] <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// collapsePayloads replaces JSON objects and arrays longer than payloadMinLen with the
// payload marker; an unclosed object that runs past payloadMinLen to the end (a cut
// dump) is replaced too.
func collapsePayloads(s string) string {
	if len(s) <= payloadMinLen {
		return s
	}
	closeAt := matchBrackets(s)
	sp := splicer{s: s}
	for i := 0; i < len(s); i++ {
		end, ok := closeAt[i]
		if !ok {
			continue
		}
		switch {
		case end >= 0 && end-i+1 > payloadMinLen && looksLikeJSON(s, i):
			sp.replace(i, end+1, payloadMarker)
			i = end
		case end >= 0:
			i = end // everything inside is shorter
		case s[i] == '{' && len(s)-i > payloadMinLen && looksLikeJSON(s, i):
			sp.replace(i, len(s), payloadMarker)
			i = len(s)
		}
	}
	return sp.String()
}

// matchBrackets maps the index of every "{" and "[" outside a JSON string to the
// index of its closing bracket, or -1 when it is never closed.
func matchBrackets(s string) map[int]int {
	closeAt := map[int]int{}
	var stack []int
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '\\':
			i++
		case '"':
			inString = true
		case '{', '[':
			closeAt[i] = -1
			stack = append(stack, i)
		case '}', ']':
			if n := len(stack); n > 0 && s[stack[n-1]] == c-2 { // '{'+2 == '}', '['+2 == ']'
				closeAt[stack[n-1]] = i
				stack = stack[:n-1]
			}
		}
	}
	return closeAt
}

// looksLikeJSON reports whether the bracket at i opens JSON rather than prose.
func looksLikeJSON(s string, i int) bool {
	j := i + 1
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j == len(s) {
		return false
	}
	if s[i] == '{' {
		return strings.IndexByte(`"'\}`, s[j]) >= 0
	}
	return strings.IndexByte(`{["'\]-0123456789`, s[j]) >= 0
}

// truncate cuts s to MaxMessageLen runes, never inside a marker, and appends "…".
func truncate(s string) string {
	if utf8.RuneCountInString(s) <= MaxMessageLen {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == MaxMessageLen {
			cut = i
			break
		}
		n++
	}
	if open := strings.LastIndexByte(s[:cut], '['); open >= 0 {
		for _, mk := range []string{redactedMarker, payloadMarker} {
			if cut-open < len(mk) && strings.HasPrefix(s[open:], mk) {
				cut = open
			}
		}
	}
	return strings.TrimRight(s[:cut], " ") + ellipsis
}
