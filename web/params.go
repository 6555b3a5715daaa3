package web

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/projections"
)

// Every query and path parameter of every route is read here: the query's hygiene is
// checked once per request (checkQuery), and each typed value is parsed and bounded by
// one helper. Whatever a caller sends — huge, negative, malformed, repeated, binary — the
// answer is a 4xx (or a clamped value), never a panic or a database error.

const (
	// maxQueryValue is the longest query value accepted (a cursor is ~80 bytes).
	maxQueryValue = 1024
	// maxPage is the highest page number a paged list accepts.
	maxPage = 1_000_000
	// maxListLimit is the largest page size an API list answers; larger is clamped.
	maxListLimit = 200
	// maxCursor is the longest cursor accepted.
	maxCursor = 256
)

// checkQuery refuses a request whose query string is not plain text: a parameter given
// more than once, a key or value that is not valid UTF-8 or carries control characters
// (NUL would reach PostgreSQL as an encoding error), or a value longer than
// maxQueryValue. It runs for every route, before any handler reads a parameter.
func checkQuery(c *fiber.Ctx) error {
	var err error
	seen := map[string]bool{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		key := string(k)
		switch {
		case !plainText(key) || len(key) > 64:
			err = fiber.NewError(fiber.StatusBadRequest, "A query parameter name is not valid text.")
		case seen[key]:
			err = fiber.NewError(fiber.StatusBadRequest, "The query parameter "+key+" is given more than once.")
		case !plainText(string(v)):
			err = fiber.NewError(fiber.StatusBadRequest, "The query parameter "+key+" is not valid text.")
		case len(v) > maxQueryValue:
			err = fiber.NewError(fiber.StatusBadRequest, "The query parameter "+key+" is too long.")
		}
		seen[key] = true
	})
	if err != nil {
		return err
	}
	return c.Next()
}

// plainText reports whether s is valid UTF-8 without control characters.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// queryInt reads the integer query parameter name: def when absent, 422 when it is not a
// whole number in [lo, hi].
func queryInt(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < int64(lo) || n > int64(hi) {
		return 0, fiber.NewError(fiber.StatusUnprocessableEntity,
			name+" must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi)+".")
	}
	return int(n), nil
}

// queryPage reads ?page= (1 when absent, 422 outside 1..maxPage).
func queryPage(c *fiber.Ctx) (int, error) {
	return queryInt(c, "page", 1, 1, maxPage)
}

// queryLimit reads ?limit= as a page size: def when absent, 422 when malformed or below
// 1, clamped to maxListLimit above it.
func queryLimit(c *fiber.Ctx, def int) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil && strings.Trim(raw, "0123456789") == "" {
		n, err = maxListLimit, nil // only digits, too many of them: a huge limit
	}
	if err != nil || n < 1 {
		return 0, fiber.NewError(fiber.StatusUnprocessableEntity, "limit must be a whole number from 1 to "+strconv.Itoa(maxListLimit)+".")
	}
	return int(min(n, maxListLimit)), nil
}

// queryUUID reads the id query parameter name (uuid.Nil when absent); a malformed id is
// the given status (404 for a link to an object, 422 for a filter).
func queryUUID(c *fiber.Ctx, name string, status int) (uuid.UUID, error) {
	raw := c.Query(name)
	if raw == "" {
		return uuid.Nil, nil
	}
	id, err := parseID(raw)
	if err != nil {
		return uuid.Nil, fiber.NewError(status, name+" must be a UUID.")
	}
	return id, nil
}

// queryTime reads the time query parameter name in layout (zero when absent); malformed
// or outside years 1..9999 is a 422 with message.
func queryTime(c *fiber.Ctx, name, layout, message string) (time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(layout, raw)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fiber.NewError(fiber.StatusUnprocessableEntity, message)
	}
	return t, nil
}

// queryCursor reads ?cursor= (an opaque page token); one that cannot be a token this
// service made is a 422 with message (the reader still checks what it decodes).
func queryCursor(c *fiber.Ctx, message string) (string, error) {
	raw := c.Query("cursor")
	if len(raw) > maxCursor || strings.Trim(raw, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return "", fiber.NewError(fiber.StatusUnprocessableEntity, message)
	}
	return raw, nil
}

// paramUUID reads the id path parameter name; a malformed id is a 404 like an unknown one.
func paramUUID(c *fiber.Ctx, name string) (uuid.UUID, error) {
	id, err := parseID(c.Params(name))
	if err != nil {
		return uuid.Nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return id, nil
}

// paramInt64 reads the positive integer path parameter name; anything else is a 404.
func paramInt64(c *fiber.Ctx, name string) (int64, error) {
	n, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || n < 0 {
		return 0, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return n, nil
}

// paramText reads the path parameter name as unescaped plain text of at most maxLen
// bytes; anything else is a 404.
func paramText(c *fiber.Ctx, name string, maxLen int) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil || v == "" || len(v) > maxLen || !plainText(v) {
		return "", fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return v, nil
}

// errBadID is a malformed id.
var errBadID = errors.New("web: malformed id")

// parseID parses a UUID in its canonical 36-character form only (uuid.Parse also takes
// braces, a urn: prefix and 32 bare hex digits: one id, one spelling).
func parseID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, errBadID
	}
	return uuid.Parse(s)
}

// querySearch reads a run list's search (q) with projections.ParseRunSearch: longer than
// projections.MaxSearchLen or not of its grammar is a 422 saying what is wrong.
func querySearch(c *fiber.Ctx) (projections.RunSearch, string, error) {
	raw := strings.TrimSpace(c.Query("q"))
	s, err := projections.ParseRunSearch(raw)
	if err != nil {
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), projections.ErrBadSearch.Error()), ": ")
		return s, raw, fiber.NewError(fiber.StatusUnprocessableEntity, "q: "+msg+" (search with id:PREFIX, initiator:NAME or key:value).")
	}
	return s, raw, nil
}
