package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// staticFS is the hub's static assets (CSS, JS), served under /admin/static.
func staticFS() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// pages are the hub's page templates, each parsed with the layout.
type pages map[string]*template.Template

var pageNames = []string{"login", "operations", "run", "error",
	"inventory", "snapshot", "directory", "drift", "drift_report", "backups", "backup_set", "backup_item", "tenants",
	"alerts", "notifications", "schedules", "schedule", "provider_connections", "provider_connection", "legacy_run", "audit", "audit_replay",
	"group", "inventory_item", "restore", "overview", "onboarding", "onboarding_new"}

// systemPageNames are the /system panel's pages (system_*.html), parsed with
// system_layout.html instead of the hub's layout.
var systemPageNames = []string{"system_login", "system_home", "system_error",
	"system_runbooks", "system_runs", "system_run"}

// mustParsePages parses every page with the layout and the partials (partials.html),
// the /system pages with system_layout.html; a broken template is a build bug.
func mustParsePages() pages {
	p := pages{}
	for _, name := range pageNames {
		t := template.New("layout.html").Funcs(templateFuncs).Funcs(partialFuncs).Funcs(fragmentFuncs)
		p[name] = template.Must(t.ParseFS(templateFiles, "templates/layout.html", "templates/partials.html", "templates/"+name+".html"))
	}
	for _, name := range systemPageNames {
		t := template.New("system_layout.html").Funcs(templateFuncs).Funcs(partialFuncs).Funcs(fragmentFuncs)
		p[name] = template.Must(t.ParseFS(templateFiles, "templates/system_layout.html", "templates/partials.html", "templates/"+name+".html"))
	}
	return p
}

var templateFuncs = template.FuncMap{
	"rfc3339":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"duration":  runDuration,
	"run_rows":  runRowsHTML,
	"summary":   projections.Summarize,
	"shortid":   shortID,
	"typelabel": typeLabel,
	"prettyjson": func(raw json.RawMessage) string {
		var b bytes.Buffer
		if len(raw) == 0 || json.Indent(&b, raw, "", "  ") != nil {
			return "{}"
		}
		return b.String()
	},
	"jsonvalue": jsonValue,
	"bytesize":  byteSize,
	"shorthash": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
	"pathescape": url.PathEscape,
	"field": func(m map[string]any, k string) string {
		switch v := m[k].(type) {
		case nil:
			return ""
		case string:
			return v
		default:
			return jsonValue(v)
		}
	},
	"deref_str": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
}

// page is what every hub template receives.
type page struct {
	Title string
	Nav   string
	User  tenancy.User
	CSRF  string
	Flash *flash
	Data  any
	// Tenant is the tenant a tenant-scoped page belongs to: the layout then shows the
	// tenant's sub-navigation (Operations · Inventory · Directory · Drift · Backups).
	Tenant *tenancy.Tenant
	// Tenants are the first tenants the user may view (at most switcherSize, plus the
	// page's tenant), for the tenant switcher; TenantCount is how many there are in all.
	Tenants     []tenancy.Tenant
	TenantCount int
	// Notes are the user's newest notifications, for the notifications menu; Unread
	// counts the user's unread ones (the menu's badge).
	Notes  []projections.Notification
	Unread int
	// Audit: the user may read the audit log somewhere (the nav's Audit link).
	Audit bool
	// reads queue a page's own reads that nothing before the render needs (its Data
	// must then be a pointer they fill) on the batch of the chrome's reads (render).
	reads []func(*pgx.Batch)
}

// render writes a hub page with status.
func (s *Server) render(c *fiber.Ctx, status int, name string, p page) error {
	if p.User.ID == uuid.Nil {
		p.User = currentUser(c)
	}
	if p.CSRF == "" {
		p.CSRF, _ = c.Locals(localCSRF).(string)
	}
	if p.User.ID != uuid.Nil && p.Flash == nil {
		p.Flash = s.takeFlash(c)
	}
	// The chrome's reads and the page's own go to the database as one batch: one round
	// trip, not four.
	b := &pgx.Batch{}
	if p.User.ID != uuid.Nil && name != "error" {
		if err := s.queueChrome(c, &p, b); err != nil {
			return err
		}
	}
	for _, read := range p.reads {
		read(b)
	}
	if b.Len() > 0 {
		if err := s.deps.Database.SendBatch(c.UserContext(), b).Close(); err != nil {
			return err
		}
	}
	return s.writePage(c, status, name, p)
}

// writePage executes the page name's layout with data and sends it with status, as
// HTML with the security headers. The page is written straight into the response's
// body (fasthttp's pooled buffer): no buffer of its own per request, no copy; a
// template that fails leaves no partial page behind.
func (s *Server) writePage(c *fiber.Ctx, status int, name string, data any) error {
	resp := c.Response()
	resp.ResetBody()
	if err := s.pages[name].ExecuteTemplate(resp.BodyWriter(), "layout", data); err != nil {
		resp.ResetBody()
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	setSecurityHeaders(c)
	c.Status(status)
	return nil
}

// switcherSize is how many tenants the layout's switcher lists.
const switcherSize = 12

// queueChrome queues on b the reads that fill the tenant switcher, the notifications
// menu and the audit link of the layout.
func (s *Server) queueChrome(c *fiber.Ctx, p *page, b *pgx.Batch) error {
	ctx := c.UserContext()
	// An MSP may manage a thousand tenants: the switcher lists the first few (and the
	// page's tenant), and links to the searchable tenant list for the rest.
	if ids, ok := c.Locals(localVisibleTenants).([]uuid.UUID); ok {
		// The page has the visible ids already (a list across tenants).
		p.TenantCount = len(ids)
		shown := ids[:min(len(ids), switcherSize)]
		if p.Tenant != nil && !slices.Contains(shown, p.Tenant.ID) {
			shown = append(slices.Clip(shown), p.Tenant.ID)
		}
		var err error
		if p.Tenants, err = s.deps.Tenancy.TenantsByID(ctx, shown); err != nil {
			return err
		}
	} else {
		include := uuid.Nil
		if p.Tenant != nil {
			include = p.Tenant.ID
		}
		if err := s.deps.Tenancy.QueueTenantSwitcher(b, p.User.ID, tenancy.CapOperationsView, switcherSize, include, &p.Tenants, &p.TenantCount); err != nil {
			return err
		}
	}
	if err := s.deps.Tenancy.QueueHasCapability(b, p.User.ID, tenancy.CapAuditView, &p.Audit); err != nil {
		return err
	}
	if s.deps.Runs != nil {
		s.deps.Runs.QueueNotificationsMenu(b, p.User.ID, 5, &p.Notes, &p.Unread)
	}
	return nil
}

// errorPage is the data of the error template.
type errorPage struct {
	Status  int
	Heading string
	Message string
}

// renderError answers an /admin request's error as an HTML page; unexpected errors are
// logged once and never shown.
func (s *Server) renderError(c *fiber.Ctx, err error) error {
	e := s.errorPageOf(c, err)
	if rerr := s.render(c, e.Status, "error", page{Title: e.Heading, Data: e}); rerr != nil {
		s.deps.Logger.Error("render error page", "error", rerr.Error())
		return c.Status(e.Status).SendString(e.Heading)
	}
	return nil
}

// errorPageOf maps an error to the error page's status and words (the hub's and
// /system's alike), logging an unexpected one once.
func (s *Server) errorPageOf(c *fiber.Ctx, err error) errorPage {
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		err = fiber.NewError(fiber.StatusNotFound, "not found")
	case errors.Is(err, tenancy.ErrForbidden):
		err = fiber.NewError(fiber.StatusForbidden, "forbidden")
	}
	e := errorPage{Status: fiber.StatusInternalServerError, Heading: "Something went wrong",
		Message: "The request could not be completed. Try again in a moment."}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		e.Status = fe.Code
		switch fe.Code {
		case fiber.StatusNotFound:
			e.Heading, e.Message = "Not found", "This page does not exist, or you do not have access to it."
		case fiber.StatusForbidden:
			e.Heading, e.Message = "Not allowed", "Your role does not allow this."
			if strings.HasPrefix(fe.Message, "The form") {
				e.Message = fe.Message
			}
		default:
			e.Heading, e.Message = "Request not accepted", fe.Message
		}
	} else {
		s.logFailure(c, err)
	}
	return e
}

// relTime says how long ago t was, in words ("3 min ago", "1 day ago").
func relTime(t time.Time) string { return relTimeAt(t, time.Now()) }

// relTimeAt says how long before now t was, with correct plurals: "just now" under a
// minute (or for a time slightly ahead of this clock), then minutes, hours and days,
// and the date from 60 days on; a time more than a minute ahead reads "in …".
func relTimeAt(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	if d < 0 {
		if -d < time.Minute {
			return "just now"
		}
		return "in " + spanWords(-d)
	}
	if d < time.Minute {
		return "just now"
	}
	if d >= 60*24*time.Hour {
		return t.UTC().Format("2 Jan 2006")
	}
	return spanWords(d) + " ago"
}

// spanWords is a span of a minute or more in its largest unit: "1 min", "3 h", "1 day",
// "12 days".
func spanWords(d time.Duration) string {
	switch {
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return plural(int(d/(24*time.Hour)), "day", "days")
}

// plural is n with the singular or plural noun: "1 day", "2 days", "0 days".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// runDuration is how long a run ran (or has been running): "—" before it started.
func runDuration(started, completed *time.Time) string {
	return runDurationAt(started, completed, time.Now())
}

// runDurationAt is runDuration with now given (a table's rows share one clock reading).
func runDurationAt(started, completed *time.Time, now time.Time) string {
	if started == nil || started.IsZero() {
		return "—"
	}
	end := now
	if completed != nil && !completed.IsZero() {
		end = *completed
	}
	return humanDuration(end.Sub(*started))
}

// humanDuration is a duration for people, in its two largest units: "350 ms", "4.2 s",
// "2 min 5 s", "1 h 3 min", "2 d 4 h" (a negative one, from skewed clocks, is "0 ms").
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0 ms"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < 10*time.Second:
		tenths := int(d / (100 * time.Millisecond))
		return strconv.Itoa(tenths/10) + "." + strconv.Itoa(tenths%10) + " s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return twoUnits(int(d/time.Minute), "min", int(d%time.Minute/time.Second), "s")
	case d < 24*time.Hour:
		return twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
	}
	return twoUnits(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
}

// twoUnits is "a ua b ub", or "a ua" when b is zero.
func twoUnits(a int, ua string, b int, ub string) string {
	if b == 0 {
		return strconv.Itoa(a) + " " + ua
	}
	return strconv.Itoa(a) + " " + ua + " " + strconv.Itoa(b) + " " + ub
}

// shortID is the first block of a UUID.
func shortID(id *uuid.UUID) string {
	if id == nil {
		return "workspace"
	}
	return id.String()[:8]
}

// typeLabel is the operator-facing label of a run type.
func typeLabel(t string) string {
	if info, ok := operations.LookupType(t); ok {
		return info.Label
	}
	return t
}

// jsonValue renders a field value compactly for a table cell: strings as they are,
// anything else as JSON, a missing value as "—".
func jsonValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case string:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// byteSize is a size in bytes for people ("1.4 KB").
func byteSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
}
