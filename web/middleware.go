package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/failure"
)

// defaultRequestTimeout bounds a request's context when Deps.RequestTimeout is zero.
const defaultRequestTimeout = 30 * time.Second

// errRecovered is what a recovered panic becomes: the error handler answers it as any
// unexpected error (500, the message never shown) without logging it a second time.
var errRecovered = errors.New("web: handler panicked")

// maxStackLines bounds the logged stack of a recovered panic.
const maxStackLines = 40

// recoverPanic is the first middleware: a panic anywhere below it becomes a 500 (JSON on
// /api, the error page on /admin), logged once with its stack, sanitized; the process
// and every other request carry on.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		s.logPanic(c, r)
		// Whatever the handler had written (status, headers, half a body) goes.
		c.Response().Reset()
		setSecurityHeaders(c)
		err = errRecovered
	}()
	return c.Next()
}

// logPanic logs a recovered panic and its stack as one record.
func (s *Server) logPanic(c *fiber.Ctx, r any) {
	lines := strings.Split(strings.TrimSpace(string(debug.Stack())), "\n")
	lines = lines[:min(len(lines), maxStackLines)]
	for i, l := range lines {
		lines[i] = failure.Sanitize(l)
	}
	s.deps.Logger.Error("request panicked", "method", c.Method(), "path", failure.Sanitize(c.Path()),
		"panic", failure.Sanitize(fmt.Sprint(r)), "stack", lines)
}

// logFailure logs an unexpected request error once (a recovered panic was logged already).
func (s *Server) logFailure(c *fiber.Ctx, err error) {
	if errors.Is(err, errRecovered) {
		return
	}
	s.deps.Logger.Error("request failed", "method", c.Method(), "path", failure.Sanitize(c.Path()), "error", failure.Sanitize(err.Error()))
}

// contentSecurityPolicy allows the hub's own scripts, styles and images only: no inline
// script or style, no framing, no <base> elsewhere, forms posting back to the hub.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// setSecurityHeaders puts the security headers on the response. Cache-Control is
// no-store except on the hub's static assets, which keep the cache their server gave.
func setSecurityHeaders(c *fiber.Ctx) {
	h := &c.Response().Header
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	h.Set(fiber.HeaderXFrameOptions, "DENY")
	h.Set(fiber.HeaderReferrerPolicy, "same-origin")
	h.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	if !isStatic(c) || len(h.Peek(fiber.HeaderCacheControl)) == 0 {
		h.Set(fiber.HeaderCacheControl, "no-store")
	}
}

// isStatic reports whether c is a request for a hub asset that answered 200.
func isStatic(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Path(), "/admin/static/") && c.Response().StatusCode() == fiber.StatusOK
}

// securityHeaders sets the security headers on every answer: before the handler runs
// (so an answer written early, or by the error handler, has them) and again after (so
// a handler cannot drop them).
func securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c)
	err := c.Next()
	setSecurityHeaders(c)
	return err
}

// requestDeadline runs every request under a context deadline of timeout (0: the
// default). Live streams (paths ending in /stream) are exempt: they bound themselves.
func requestDeadline(timeout time.Duration) fiber.Handler {
	if timeout <= 0 {
		timeout = defaultRequestTimeout
	}
	return func(c *fiber.Ctx) error {
		if strings.HasSuffix(c.Path(), "/stream") {
			return c.Next()
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), timeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// ParseTrustedProxies parses ATLAS_TRUSTED_PROXIES: comma-separated IP addresses and
// CIDR ranges of the reverse proxies whose forwarded headers are believed.
func ParseTrustedProxies(list string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case strings.Contains(item, "/"):
			_, n, err := net.ParseCIDR(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not a CIDR range: %w", item, err)
			}
			out = append(out, n.String())
		default:
			ip := net.ParseIP(item)
			if ip == nil {
				return nil, fmt.Errorf("trusted proxy %q is not an IP address", item)
			}
			out = append(out, ip.String())
		}
	}
	return out, nil
}

// forwardedFor makes X-Forwarded-For name one client when a trusted proxy sent the
// request: walking the list from the right (the entries the proxies appended), the
// first address that is not itself a trusted proxy is the client, and only it is kept,
// so an address the client wrote at the left cannot pose as its own. Fiber's c.IP()
// then answers it; from any other peer Fiber ignores the header.
func forwardedFor(trusted []string) fiber.Handler {
	var prefixes []netip.Prefix
	for _, t := range trusted {
		if p, err := netip.ParsePrefix(t); err == nil {
			prefixes = append(prefixes, p)
		} else if a, err := netip.ParseAddr(t); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(c *fiber.Ctx) error {
		if len(prefixes) == 0 || !c.IsProxyTrusted() {
			return c.Next()
		}
		hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
		client := ""
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // not an address a proxy appended: nothing left of it is believed
			}
			client = a.Unmap().String()
			if !isTrusted(a) {
				break
			}
		}
		if client == "" {
			c.Request().Header.Del(fiber.HeaderXForwardedFor)
		} else {
			c.Request().Header.Set(fiber.HeaderXForwardedFor, client)
		}
		return c.Next()
	}
}
