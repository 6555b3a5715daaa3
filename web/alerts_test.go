package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/notify"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

const alertSecret = "whsec-web-Test-0123456789-abcdef"

func alertBody(extra string) string {
	return `{"events":["operations.run.failed"],"url":"https://hooks.example.test/atlas","secret":"` + alertSecret + `"` + extra + `}`
}

// rawCall is call without the JSON decoding: the answer's status and body as sent.
func (h *hub) rawCall(t *testing.T, who, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+h.seed.Users[who].Token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// TestAlertAPIAuthorizationMatrix: the three alert routes as every kind of principal.
// Rules are the workspace owner's: other members get 403; the outsider (owner of another
// workspace) sees only that workspace's rules, and naming the demo workspace is a 404.
func TestAlertAPIAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	principals := []string{"owner", "operator", "readonly", "compliance", "outsider", "", "bad"}
	for _, r := range []struct {
		name, method, path, body string
		want                     map[string]int
	}{
		{"create rule", "POST", "/api/v1/alert-rules", alertBody(""),
			map[string]int{"owner": 200, "operator": 403, "readonly": 403, "compliance": 403, "outsider": 200, "": 401, "bad": 401}},
		{"create rule in the demo workspace", "POST", "/api/v1/alert-rules", alertBody(`,"workspaceId":"` + h.seed.Workspace.String() + `"`),
			map[string]int{"owner": 200, "operator": 403, "readonly": 403, "compliance": 403, "outsider": 404, "": 401, "bad": 401}},
		{"list rules", "GET", "/api/v1/alert-rules", "",
			map[string]int{"owner": 200, "operator": 403, "readonly": 403, "compliance": 403, "outsider": 200, "": 401, "bad": 401}},
		{"list deliveries", "GET", "/api/v1/alert-deliveries", "",
			map[string]int{"owner": 200, "operator": 403, "readonly": 403, "compliance": 403, "outsider": 200, "": 401, "bad": 401}},
	} {
		for _, who := range principals {
			code, _ := h.call(t, who, r.method, r.path, r.body)
			require.Equal(t, r.want[who], code, "%s as %q", r.name, who)
		}
	}

	// The outsider's list holds its own workspace's rules only; nobody's holds a secret.
	_, owners := h.rawCall(t, "owner", "GET", "/api/v1/alert-rules", "")
	_, outsiders := h.rawCall(t, "outsider", "GET", "/api/v1/alert-rules", "")
	var ownerRules, outsiderRules struct {
		Rules []struct {
			ID          string   `json:"id"`
			WorkspaceID string   `json:"workspaceId"`
			Events      []string `json:"events"`
			URL         string   `json:"url"`
			Types       []string `json:"types"`
			Tenants     []string `json:"tenants"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(owners), &ownerRules))
	require.NoError(t, json.Unmarshal([]byte(outsiders), &outsiderRules))
	require.NotEmpty(t, ownerRules.Rules)
	require.NotEmpty(t, outsiderRules.Rules)
	for _, r := range ownerRules.Rules {
		require.Equal(t, h.seed.Workspace.String(), r.WorkspaceID)
		require.Contains(t, r.Events, "operations.run.failed")
		require.NotNil(t, r.Types)
		require.NotNil(t, r.Tenants)
	}
	for _, r := range outsiderRules.Rules {
		require.NotEqual(t, h.seed.Workspace.String(), r.WorkspaceID)
	}
	require.NotContains(t, owners, alertSecret)
	require.NotContains(t, outsiders, alertSecret)
}

// regexpFind returns the first group of pattern in body.
func regexpFind(t *testing.T, body, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	require.NotNil(t, m, "%s not in the page", pattern)
	return m[1]
}

// TestAlertRuleAPIValidation: each bad field is named in a 422; the secret is in no
// answer, no event and no log line.
func TestAlertRuleAPIValidation(t *testing.T) {
	t.Parallel()
	h, _, logs := edgeHub(t, nil)
	tenant := h.seed.Tenants[0].ID.String()
	var answers []string
	for _, c := range []struct {
		body   string
		fields []string
	}{
		{`{"events":["operations.run.succeeded"],"url":"http://hooks.example.test/","secret":"` + alertSecret + `"}`, []string{"events:", "url:"}},
		{`{"events":[],"url":"https://hooks.example.test/","secret":"short"}`, []string{"events:", "secret:"}},
		{`{"events":["operations.run.failed"],"url":"https://hooks.example.test/","types":["nope"],"tenants":["` + uuid.NewString() + `"]}`, []string{"types:", "tenants:", "secret:"}},
		{`{"events":["operations.run.failed"],"url":"https://hooks.example.test/","tenants":["not-a-uuid"],"secret":"` + alertSecret + `"}`, []string{"tenants:"}},
		{`{"events":["operations.run.failed"],"url":"https://hooks.example.test/","secret":"` + alertSecret + `","workspaceId":"x"}`, []string{"workspaceId:"}},
		{`{"events":["operations.run.failed"],"url":"https://hooks.example.test/","secret":"` + alertSecret + `","colour":"red"}`, []string{"colour: unknown field"}},
		{`[1,2]`, []string{"body:"}},
		{`{"url":`, []string{"body:"}},
	} {
		code, raw := h.rawCall(t, "owner", "POST", "/api/v1/alert-rules", c.body)
		require.Equal(t, http.StatusUnprocessableEntity, code, c.body)
		var e struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &e))
		require.Equal(t, "unprocessable", e.Error.Code)
		for _, f := range c.fields {
			require.Contains(t, e.Error.Message, f, c.body)
		}
		answers = append(answers, raw)
	}
	// A good rule with every filter.
	code, raw := h.rawCall(t, "owner", "POST", "/api/v1/alert-rules", `{"events":["operations.run.failed","operations.run.partially_succeeded"],
		"url":"https://hooks.example.test/filtered","types":["inventory.sync"],"tenants":["`+tenant+`"],"secret":"`+alertSecret+`"}`)
	require.Equal(t, http.StatusOK, code, raw)
	var rule struct {
		ID      string
		Tenants []string
		Types   []string
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &rule))
	require.Equal(t, []string{tenant}, rule.Tenants)
	require.Equal(t, []string{"inventory.sync"}, rule.Types)
	answers = append(answers, raw)
	for _, p := range []string{"/api/v1/alert-rules", "/api/v1/alert-deliveries"} {
		_, raw := h.rawCall(t, "owner", "GET", p, "")
		answers = append(answers, raw)
	}
	for _, a := range answers {
		require.NotContains(t, a, alertSecret)
	}
	var inEvents int
	require.NoError(t, h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM es_events e WHERE strpos(e::text, $1) > 0`, alertSecret).Scan(&inEvents))
	require.Zero(t, inEvents)
	require.NotContains(t, logs.String(), alertSecret)
}

// TestAdminAlertsPage: owners see rules, deliveries and the form; the form creates a
// rule or names the bad field (the secret never echoed); other members get 403.
func TestAdminAlertsPage(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	operator := newBrowser(t, h)
	operator.login("operator")
	resp, _ := operator.get("/admin/alerts")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	owner := newBrowser(t, h)
	owner.login("owner")
	resp, body := owner.get("/admin/alerts")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "New rule")
	require.Contains(t, body, "Recent deliveries")
	token := csrf(t, body)

	hook := "https://hooks.example.test/page-" + uuid.NewString()[:8]
	resp, body = owner.post("/admin/alerts", url.Values{"_csrf": {token}, "events": {"operations.run.failed"},
		"url": {"http://hooks.example.test/plain"}, "secret": {alertSecret}, "tenants": {h.seed.Tenants[1].ID.String()}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Contains(t, body, "must be an https URL")
	require.Contains(t, body, `value="http://hooks.example.test/plain"`, "the form keeps what was typed")
	require.NotContains(t, body, alertSecret, "but never the secret")

	resp, _ = owner.post("/admin/alerts", url.Values{"_csrf": {token}, "events": {"operations.run.failed", "operations.run.partially_succeeded"},
		"url": {hook}, "secret": {alertSecret}, "types": {"inventory.sync"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body = owner.get("/admin/alerts")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, hook)
	require.Contains(t, body, "Alert rule created")
	require.NotContains(t, body, alertSecret)

	// Without the CSRF token nothing is created.
	resp, _ = owner.post("/admin/alerts", url.Values{"events": {"operations.run.failed"}, "url": {hook + "-nocsrf"}, "secret": {alertSecret}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, body = owner.get("/admin/alerts")
	require.NotContains(t, body, hook+"-nocsrf")
}

// TestNotificationsInbox: the layout's unread count, the inbox page with keyset pages,
// mark one and mark all read; another user's notification cannot be marked (404).
func TestNotificationsInbox(t *testing.T) {
	t.Parallel()
	h := startHub(t, pgtest.DB(t))
	ctx := t.Context()
	ten := h.app.Tenancy
	newUser := func() (uuid.UUID, string) {
		email := "inbox-" + uuid.NewString()[:8] + "@example.test"
		u, err := ten.RegisterUser(ctx, "system:test", email, "Inbox", "correct horse battery staple")
		require.NoError(t, err)
		return u.ID, email
	}
	alice, aliceEmail := newUser()
	bob, _ := newUser()

	// Notifications as a run's would be: NotificationSent events, projected to the inbox.
	send := func(user uuid.UUID, n int) []uuid.UUID {
		var ids []uuid.UUID
		for i := range n {
			run := uuid.New()
			note, err := notify.Compose(notify.NotificationSent{UserID: user, RunID: run, Kind: "run.completed",
				Title: fmt.Sprintf("Inventory sync %d completed", i), Body: "done", URL: "/admin/operations/" + run.String()})
			require.NoError(t, err)
			_, err = h.app.Store.Append(ctx, eventstore.NewStreamID("inboxtest", note.NotificationID), eventstore.NoStream,
				eventstore.NewEvent{Data: note, Metadata: eventstore.Metadata{Actor: "system:test"}})
			require.NoError(t, err)
			ids = append(ids, note.NotificationID)
		}
		return ids
	}
	mine := send(alice, 53)
	theirs := send(bob, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = h.app.Runner.Run(runCtx, projections.Notifications{}) }()
	require.Eventually(t, func() bool {
		n, err := h.app.Runs.UnreadNotifications(ctx, alice)
		require.NoError(t, err)
		m, err := h.app.Runs.UnreadNotifications(ctx, bob)
		require.NoError(t, err)
		return n == 53 && m == 1
	}, 30*time.Second, 20*time.Millisecond)

	b := newBrowser(t, h)
	_, body := b.get("/admin/login")
	resp, _ := b.post("/admin/login", url.Values{"email": {aliceEmail}, "password": {"correct horse battery staple"}, "_csrf": {csrf(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	unread := func(body string) string {
		i := strings.Index(body, `id="unread-count"`)
		if i < 0 {
			return "0"
		}
		rest := body[i:]
		return rest[strings.Index(rest, ">")+1 : strings.Index(rest, "<")]
	}
	resp, body = b.get("/admin/notifications")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "53", unread(body))
	require.Contains(t, body, "53 unread")
	require.Equal(t, 50, strings.Count(body, `>Mark read</button>`), "the first page holds 50")
	require.Contains(t, body, `href="/admin/operations/`, "each links to its run")
	// The next page holds the other three, none of the first page's.
	next := regexpFind(t, body, `href="(/admin/notifications\?cursor=[^"]+)"`)
	resp, page2 := b.get(strings.ReplaceAll(next, "&amp;", "&"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 3, strings.Count(page2, `>Mark read</button>`))
	require.Contains(t, page2, mine[0].String(), "the oldest is on the last page")
	require.NotContains(t, page2, "cursor=", "no page after the last")
	resp, _ = b.get("/admin/notifications?cursor=bm90LWEtY3Vyc29y")
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// Mark one read: the count goes down by one, twice is the same as once.
	token := csrf(t, body)
	for range 2 {
		resp, _ = b.post("/admin/notifications/"+mine[52].String()+"/read", url.Values{"_csrf": {token}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}
	_, body = b.get("/admin/notifications")
	require.Equal(t, "52", unread(body))
	_, body = b.get("/admin/operations")
	require.Equal(t, "52", unread(body), "the badge is in every page's layout")

	// Another user's notification, an unknown one, no CSRF token: refused, nothing marked.
	resp, _ = b.post("/admin/notifications/"+theirs[0].String()+"/read", url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = b.post("/admin/notifications/"+uuid.NewString()+"/read", url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = b.post("/admin/notifications/"+mine[0].String()+"/read", url.Values{})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	n, err := h.app.Runs.UnreadNotifications(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Mark all read.
	resp, _ = b.post("/admin/notifications/read-all", url.Values{"_csrf": {token}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body = b.get("/admin/notifications")
	require.Equal(t, "0", unread(body))
	require.Contains(t, body, "All read.")
	require.NotContains(t, body, `>Mark read</button>`)
	n, err = h.app.Runs.UnreadNotifications(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the caller's are marked")
	// The layout's menu reads both in one query: the same newest five and the same count.
	for _, who := range []uuid.UUID{alice, bob} {
		want, err := h.app.Runs.Notifications(ctx, who, 5)
		require.NoError(t, err)
		wantUnread, err := h.app.Runs.UnreadNotifications(ctx, who)
		require.NoError(t, err)
		menu, menuUnread, err := h.app.Runs.NotificationsMenu(ctx, who, 5)
		require.NoError(t, err)
		require.Equal(t, want, menu)
		require.Equal(t, wantUnread, menuUnread)
	}

	// The API shows the read state too.
	notes, err := h.app.Runs.Notifications(ctx, alice, 5)
	require.NoError(t, err)
	for _, note := range notes {
		require.NotNil(t, note.ReadAt)
	}
}

// TestAlertDeliveriesShown: a delivery and its attempts (a 503, then a 204) appear on
// /admin/alerts and in GET /api/v1/alert-deliveries, linked to the run.
func TestAlertDeliveriesShown(t *testing.T) {
	t.Parallel()
	h := startHubTB(t, pgtest.Fresh(t)) // its own log: the follower reads all of it
	ctx := t.Context()
	var calls int
	var mu sync.Mutex
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	code, raw := h.rawCall(t, "owner", "POST", "/api/v1/alert-rules",
		`{"events":["operations.run.failed"],"url":"http://`+ln.Addr().String()+`/hook","secret":"`+alertSecret+`"}`)
	require.Equal(t, http.StatusOK, code, raw)

	run := uuid.New()
	meta := eventstore.Metadata{Actor: "system:test", WorkspaceID: h.seed.Workspace}
	now := time.Now().UTC()
	_, err = h.app.Store.Append(ctx, operations.RunStream(run), eventstore.NoStream,
		eventstore.NewEvent{Data: operations.RunQueued{RunID: run, Type: "findings.lifecycle.backfill", WorkspaceID: h.seed.Workspace,
			Initiator: operations.Initiator{Kind: "system", Name: "test"}, IdentityHash: run.String(), Context: json.RawMessage(`{}`),
			SourceSurface: "test", QueuedAt: now}, Metadata: meta},
		eventstore.NewEvent{Data: operations.RunFailed{ReasonCode: operations.ReasonProviderConsentMissing, Message: "two tenants failed",
			CompletedAt: now}, Metadata: meta})
	require.NoError(t, err)
	require.NoError(t, h.app.Store.SealCommitted(ctx))
	n, err := h.app.Alerts.Follow(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = h.app.Alerts.Dispatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = h.app.Pool.Exec(ctx, `UPDATE al_deliveries SET next_attempt_at = now()`) // skip the backoff
	require.NoError(t, err)
	n, err = h.app.Alerts.Dispatch(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	owner := newBrowser(t, h)
	owner.login("owner")
	resp, body := owner.get("/admin/alerts")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `href="/admin/operations/`+run.String()+`"`)
	require.Contains(t, body, "HTTP 503")
	require.Contains(t, body, "HTTP 204")
	require.Contains(t, body, `badge-delivered`)
	require.NotContains(t, body, alertSecret)

	code, raw = h.rawCall(t, "owner", "GET", "/api/v1/alert-deliveries", "")
	require.Equal(t, http.StatusOK, code)
	var out struct {
		Deliveries []struct {
			RunID    string `json:"runId"`
			RunURL   string `json:"runUrl"`
			Status   string `json:"status"`
			Attempts []struct {
				Attempt    int  `json:"attempt"`
				StatusCode *int `json:"statusCode"`
			} `json:"attempts"`
		} `json:"deliveries"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &out))
	require.Len(t, out.Deliveries, 1)
	d := out.Deliveries[0]
	require.Equal(t, run.String(), d.RunID)
	require.Equal(t, "/admin/operations/"+run.String(), d.RunURL)
	require.Equal(t, "delivered", d.Status)
	require.Len(t, d.Attempts, 2)
	require.Equal(t, 503, *d.Attempts[0].StatusCode)
	require.Equal(t, 204, *d.Attempts[1].StatusCode)
	require.NotContains(t, raw, alertSecret)
}
