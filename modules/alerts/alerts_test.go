package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/alerts"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error { return monolith.Migrate(ctx, pool) })
	pgtest.Main(m)
}

// clock is the real time moved ahead by hand.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// world is a wired app with a workspace, two tenants, an owner and an operator.
type world struct {
	ctx      context.Context
	app      *monolith.App
	clock    *clock
	logs     *monotest.Buffer
	ws       uuid.UUID
	tenants  []uuid.UUID
	owner    uuid.UUID
	operator uuid.UUID
}

func newWorld(t *testing.T, pool *pgxpool.Pool) *world {
	t.Helper()
	ctx := t.Context()
	logs := &monotest.Buffer{}
	clk := &clock{}
	app := monolith.New(pool, monolith.Options{BcryptCost: bcrypt.MinCost,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Alerts: alerts.Options{Now: clk.Now, BaseDelay: time.Second, MaxDelay: 8 * time.Second, MaxAttempts: 8, MaxAge: time.Hour,
			Timeout: 2 * time.Second, Jitter: func() float64 { return 0.5 }}})
	w := &world{ctx: ctx, app: app, clock: clk, logs: logs}
	ten := app.Tenancy
	ws, err := ten.CreateWorkspace(ctx, "system:test", "ws-"+uuid.NewString()[:8])
	require.NoError(t, err)
	w.ws = ws.ID
	for _, name := range []string{"Contoso", "Fabrikam"} {
		tn, err := ten.AddTenant(ctx, "system:test", ws.ID, name, uuid.NewString())
		require.NoError(t, err)
		w.tenants = append(w.tenants, tn.ID)
	}
	for _, role := range []tenancy.Role{tenancy.RoleOwner, tenancy.RoleOperator} {
		u, err := ten.RegisterUser(ctx, "system:test", string(role)+"-"+uuid.NewString()[:8]+"@example.test", string(role), "correct horse battery staple")
		require.NoError(t, err)
		require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: role}))
		if role == tenancy.RoleOwner {
			w.owner = u.ID
		} else {
			w.operator = u.ID
		}
	}
	return w
}

// endRun appends a whole run (queued, started, then its terminal event) of typ on
// tenant (uuid.Nil: workspace-scoped) and returns its id.
func (w *world) endRun(t *testing.T, typ string, tenant uuid.UUID, end eventstore.Event) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	meta := eventstore.Metadata{Actor: "system:test", WorkspaceID: w.ws, TenantID: tenant}
	now := time.Now().UTC()
	_, err = w.app.Store.Append(w.ctx, operations.RunStream(id), eventstore.NoStream,
		eventstore.NewEvent{Data: operations.RunQueued{RunID: id, Type: typ, WorkspaceID: w.ws, TenantID: tenant,
			Initiator: operations.Initiator{Kind: "system", Name: "test"}, IdentityHash: id.String(), Context: json.RawMessage(`{}`),
			SourceSurface: "test", QueuedAt: now}, Metadata: meta},
		eventstore.NewEvent{Data: operations.RunStarted{WorkerID: "test", StartedAt: now}, Metadata: meta},
		eventstore.NewEvent{Data: end, Metadata: meta})
	require.NoError(t, err)
	return id
}

// follow seals what has committed (parallel tests hold the server's seal horizon back
// for moments) and runs the follower.
func (w *world) follow(t *testing.T) (int, error) {
	t.Helper()
	require.NoError(t, w.app.Store.SealCommitted(w.ctx))
	return w.app.Alerts.Follow(w.ctx)
}

func failed(msg string) operations.RunFailed {
	return operations.RunFailed{ReasonCode: operations.ReasonProviderConsentMissing, Message: msg, CompletedAt: time.Now().UTC()}
}

const secret = "whsec-Test-0123456789-abcdefXYZ"

// TestRuleValidationAndAuthorization: owners only, 404 for a member of nothing, each bad
// field named, and the secret recorded nowhere but its column.
func TestRuleValidationAndAuthorization(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pgtest.DB(t))
	ctx := w.ctx
	good := alerts.NewRule{Events: []string{alerts.EventRunFailed}, URL: "https://hooks.example.test/atlas", Secret: secret}

	_, err := w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: w.operator}, good)
	require.ErrorIs(t, err, alerts.ErrForbidden)
	stranger, err := w.app.Tenancy.RegisterUser(ctx, "system:test", "stranger-"+uuid.NewString()[:8]+"@example.test", "S", "correct horse battery staple")
	require.NoError(t, err)
	_, err = w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: stranger.ID}, good)
	require.ErrorIs(t, err, alerts.ErrNotFound)
	_, err = w.app.Alerts.Rules(ctx, w.operator)
	require.ErrorIs(t, err, alerts.ErrForbidden)
	// Naming a workspace the owner is no member of: not found.
	other := good
	other.WorkspaceID = uuid.New()
	_, err = w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: w.owner}, other)
	require.ErrorIs(t, err, alerts.ErrNotFound)

	otherWS, err := w.app.Tenancy.CreateWorkspace(ctx, "system:test", "other-"+uuid.NewString()[:8])
	require.NoError(t, err)
	foreign, err := w.app.Tenancy.AddTenant(ctx, "system:test", otherWS.ID, "Elsewhere", uuid.NewString())
	require.NoError(t, err)
	for _, c := range []struct {
		name  string
		edit  func(*alerts.NewRule)
		field string
	}{
		{"no events", func(r *alerts.NewRule) { r.Events = nil }, "events"},
		{"unknown event", func(r *alerts.NewRule) { r.Events = []string{"operations.run.succeeded"} }, "events"},
		{"no url", func(r *alerts.NewRule) { r.URL = "" }, "url"},
		{"plain http", func(r *alerts.NewRule) { r.URL = "http://hooks.example.test/x" }, "url"},
		{"ftp", func(r *alerts.NewRule) { r.URL = "ftp://hooks.example.test/x" }, "url"},
		{"relative", func(r *alerts.NewRule) { r.URL = "/hooks" }, "url"},
		{"credentials", func(r *alerts.NewRule) { r.URL = "https://u:p@hooks.example.test/x" }, "url"},
		{"too long", func(r *alerts.NewRule) { r.URL = "https://hooks.example.test/" + strings.Repeat("a", 3000) }, "url"},
		{"unknown type", func(r *alerts.NewRule) { r.Types = []string{"nope.sync"} }, "types"},
		{"foreign tenant", func(r *alerts.NewRule) { r.Tenants = []uuid.UUID{foreign.ID} }, "tenants"},
		{"unknown tenant", func(r *alerts.NewRule) { r.Tenants = []uuid.UUID{uuid.New()} }, "tenants"},
		{"no secret", func(r *alerts.NewRule) { r.Secret = "" }, "secret"},
		{"short secret", func(r *alerts.NewRule) { r.Secret = "short" }, "secret"},
		{"secret with space", func(r *alerts.NewRule) { r.Secret = "a secret with spaces in it" }, "secret"},
	} {
		in := good
		c.edit(&in)
		_, err := w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: w.owner}, in)
		var ve *alerts.ValidationError
		require.ErrorAs(t, err, &ve, c.name)
		require.Contains(t, ve.Fields, c.field, c.name)
		require.Len(t, ve.Fields, 1, c.name)
		require.NotContains(t, ve.Error(), secret)
	}

	// Loopback http is allowed; filters are kept, duplicates dropped.
	in := good
	in.URL = "http://127.0.0.1:9/hook"
	in.Events = []string{alerts.EventRunFailed, alerts.EventRunPartiallySucceeded, alerts.EventRunFailed}
	in.Types = []string{"inventory.sync", "findings.lifecycle.backfill"}
	in.Tenants = []uuid.UUID{w.tenants[0]}
	r, err := w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: w.owner, IP: "127.0.0.1", UserAgent: "test"}, in)
	require.NoError(t, err)
	require.Equal(t, w.ws, r.WorkspaceID)
	require.Equal(t, []string{alerts.EventRunFailed, alerts.EventRunPartiallySucceeded}, r.Events)
	rules, err := w.app.Alerts.Rules(ctx, w.owner)
	require.NoError(t, err)
	require.Len(t, rules, 1)
	require.Equal(t, r.ID, rules[0].ID)
	require.Equal(t, in.Types, rules[0].Types)
	require.Equal(t, in.Tenants, rules[0].Tenants)
	raw, err := json.Marshal(rules)
	require.NoError(t, err)
	require.NotContains(t, string(raw), secret)

	// The rule is an event and an audit entry, neither holding the secret.
	var created, audited int
	require.NoError(t, w.app.Pool.QueryRow(ctx, `SELECT count(*) FROM es_events WHERE stream_id = $1 AND event_type = 'AlertRuleCreated'
		AND (data->>'secretSet')::bool`, "alertrule-"+r.ID.String()).Scan(&created))
	require.Equal(t, 1, created)
	require.NoError(t, w.app.Pool.QueryRow(ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = 'alerts.rule.create' AND data->>'target' = $1`, "alert_rule:"+r.ID.String()).Scan(&audited))
	require.Equal(t, 1, audited)
	requireSecretNowhere(t, w)
}

// requireSecretNowhere: no event payload or metadata and no log line holds the secret.
func requireSecretNowhere(t *testing.T, w *world) {
	t.Helper()
	var n int
	require.NoError(t, w.app.Pool.QueryRow(w.ctx, `SELECT count(*) FROM es_events e WHERE strpos(e::text, $1) > 0`, secret).Scan(&n))
	require.Zero(t, n, "the secret is in %d event(s)", n)
	require.NotContains(t, w.logs.String(), secret)
}

// receiver is a webhook receiver on loopback that verifies every signature.
type receiver struct {
	mu        sync.Mutex
	failFirst int // answer 503 to this many requests first
	requests  int
	delivered map[string]int // delivery id -> accepted requests
	bodies    map[string]alerts.Payload
	badSigs   int
}

func (rc *receiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := alerts.Verify(secret, r.Header.Get(alerts.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		rc.badSigs++
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.requests <= rc.failFirst {
		rw.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p alerts.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	id := r.Header.Get(alerts.DeliveryHeader)
	rc.delivered[id]++
	rc.bodies[id] = p
	rw.WriteHeader(http.StatusNoContent)
}

// TestDeliveryDownThenUp: a receiver that refuses connections, then answers 503, then
// 204 gets each matching run's delivery exactly once, validly signed; every attempt is
// recorded with its status or error class; replaying the log and several dispatchers
// add nothing; workspace-scoped runs are covered; the secret leaks nowhere.
func TestDeliveryDownThenUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pgtest.Fresh(t))
	ctx := w.ctx

	// A loopback port nobody listens on yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	all, err := w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: w.owner}, alerts.NewRule{
		Events: []string{alerts.EventRunFailed, alerts.EventRunPartiallySucceeded}, URL: "http://" + addr + "/hook", Secret: secret})
	require.NoError(t, err)
	onlyFabrikamDrift, err := w.app.Alerts.CreateRule(ctx, alerts.Actor{UserID: w.owner}, alerts.NewRule{
		Events: []string{alerts.EventRunFailed}, URL: "http://" + addr + "/hook", Secret: secret,
		Types: []string{"drift.generate"}, Tenants: []uuid.UUID{w.tenants[1]}})
	require.NoError(t, err)

	leak := "Bearer eyJhbGciOiJub25lIn0.c2VjcmV0LXRva2Vu.sig"
	failedRun := w.endRun(t, "inventory.sync", w.tenants[0], failed("graph said: Authorization: "+leak))
	partialRun := w.endRun(t, "directory.groups.sync", w.tenants[0],
		operations.RunCompleted{Outcome: operations.OutcomePartiallySucceeded, CompletedAt: time.Now().UTC()})
	// The all-tenants runbook's run is workspace-scoped (no tenant).
	runbookRun := w.endRun(t, "findings.lifecycle.backfill", uuid.Nil, failed("2 tenants failed"))
	fabrikamDrift := w.endRun(t, "drift.generate", w.tenants[1], failed("baseline missing"))
	w.endRun(t, "inventory.sync", w.tenants[0], operations.RunCompleted{Outcome: operations.OutcomeSucceeded, CompletedAt: time.Now().UTC()})
	w.endRun(t, "inventory.sync", w.tenants[0], operations.RunCancelled{Reason: "stop", CompletedAt: time.Now().UTC()})

	n, err := w.follow(t)
	require.NoError(t, err)
	require.Equal(t, 5, n) // 4 runs for the catch-all rule, 1 for the filtered one
	wantRuns := map[uuid.UUID]int{failedRun: 1, partialRun: 1, runbookRun: 1, fabrikamDrift: 2}

	// Replays change nothing: the checkpoint back to 0, four followers at once.
	_, err = w.app.Pool.Exec(ctx, `UPDATE al_follower SET position = 0`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	var again atomic.Int64
	for range 4 {
		wg.Go(func() {
			n, err := w.follow(t)
			require.NoError(t, err)
			again.Add(int64(n))
		})
	}
	wg.Wait()
	require.Zero(t, again.Load())

	// Down: connection refused, twice (the clock moves past each backoff).
	for range 2 {
		n, err := w.app.Alerts.Dispatch(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, n)
		n, err = w.app.Alerts.Dispatch(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing is due before its backoff")
		w.clock.Add(10 * time.Second)
	}

	// Up, answering 503 to the first five requests, then 204.
	rc := &receiver{failFirst: 5, delivered: map[string]int{}, bodies: map[string]alerts.Payload{}}
	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	n, err = w.app.Alerts.Dispatch(ctx) // five 503s
	require.NoError(t, err)
	require.Equal(t, 5, n)
	w.clock.Add(time.Minute)
	// Three dispatchers at once: each delivery is sent once.
	var sent atomic.Int64
	for range 3 {
		wg.Go(func() {
			n, err := w.app.Alerts.Dispatch(ctx)
			require.NoError(t, err)
			sent.Add(int64(n))
		})
	}
	wg.Wait()
	require.Equal(t, int64(5), sent.Load())
	w.clock.Add(time.Hour)
	n, err = w.app.Alerts.Dispatch(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "delivered deliveries are never sent again")

	rc.mu.Lock()
	require.Zero(t, rc.badSigs)
	require.Equal(t, 10, rc.requests)
	require.Len(t, rc.delivered, 5)
	got := map[uuid.UUID]int{}
	for id, times := range rc.delivered {
		require.Equal(t, 1, times, id)
		p := rc.bodies[id]
		require.Equal(t, id, p.ID.String())
		got[p.Run.ID]++
		require.Equal(t, operations.RunURL(p.Run.ID), p.Run.URL)
		require.Equal(t, w.ws, p.Run.WorkspaceID)
		switch p.Run.ID {
		case failedRun:
			require.Equal(t, alerts.EventRunFailed, p.Event)
			require.Equal(t, "failed", p.Run.Outcome)
			require.Equal(t, string(operations.ReasonProviderConsentMissing), p.Run.ReasonCode)
			require.NotContains(t, p.Run.Message, "c2VjcmV0LXRva2Vu", "the message is sanitized")
			require.Equal(t, w.tenants[0], *p.Run.TenantID)
		case partialRun:
			require.Equal(t, alerts.EventRunPartiallySucceeded, p.Event)
			require.Equal(t, "partially_succeeded", p.Run.Outcome)
		case runbookRun:
			require.Nil(t, p.Run.TenantID)
			require.Equal(t, "findings.lifecycle.backfill", p.Run.Type)
		case fabrikamDrift:
			require.Contains(t, []uuid.UUID{all.ID, onlyFabrikamDrift.ID}, p.RuleID)
		}
	}
	rc.mu.Unlock()
	require.Equal(t, wantRuns, got)

	// Every attempt is visible: two refused, 503 for the first five, then the 204.
	ds, err := w.app.Alerts.Deliveries(ctx, w.owner, 50)
	require.NoError(t, err)
	require.Len(t, ds, 5)
	statuses := map[int]int{}
	for _, d := range ds {
		require.Equal(t, alerts.StatusDelivered, d.Status)
		require.NotNil(t, d.FinishedAt)
		require.Equal(t, len(d.Attempts), d.AttemptCount)
		require.Equal(t, "connection_refused", d.Attempts[0].Error)
		require.Equal(t, "connection_refused", d.Attempts[1].Error)
		require.Nil(t, d.Attempts[0].StatusCode)
		last := d.Attempts[len(d.Attempts)-1]
		require.Equal(t, http.StatusNoContent, *last.StatusCode)
		statuses[len(d.Attempts)]++
	}
	require.Equal(t, map[int]int{4: 5}, statuses, "refused, refused, 503, then 204")
	_, err = w.app.Alerts.Deliveries(ctx, w.operator, 50)
	require.ErrorIs(t, err, alerts.ErrForbidden)
	requireSecretNowhere(t, w)
}

// TestDeliveryGivesUp: a receiver that always fails is tried MaxAttempts times with
// growing delays, then the delivery is failed and never sent again.
func TestDeliveryGivesUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pgtest.Fresh(t))
	var requests atomic.Int64
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		rw.WriteHeader(http.StatusBadGateway)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, err = w.app.Alerts.CreateRule(w.ctx, alerts.Actor{UserID: w.owner}, alerts.NewRule{
		Events: []string{alerts.EventRunFailed}, URL: "http://" + ln.Addr().String() + "/", Secret: secret})
	require.NoError(t, err)
	w.endRun(t, "inventory.sync", w.tenants[0], failed("boom"))
	_, err = w.follow(t)
	require.NoError(t, err)

	var gaps []time.Duration
	for i := range 20 {
		n, err := w.app.Alerts.Dispatch(w.ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		ds, err := w.app.Alerts.Deliveries(w.ctx, w.owner, 1)
		require.NoError(t, err)
		if ds[0].NextAttemptAt != nil {
			// The gap from the attempt that set it (the clock runs on meanwhile: measured
			// from the test's now, a slow moment took 130 ms off the first gap).
			var last time.Time
			for _, a := range ds[0].Attempts {
				if a.N == ds[0].AttemptCount {
					last = a.At
				}
			}
			require.False(t, last.IsZero(), "the attempt that set the next one")
			gaps = append(gaps, ds[0].NextAttemptAt.Sub(last).Round(250*time.Millisecond))
			w.clock.Add(ds[0].NextAttemptAt.Sub(w.clock.Now()))
		}
		require.Less(t, i, 10)
	}
	require.Equal(t, int64(8), requests.Load())
	// Base 1 s doubling, capped at 8 s, jitter fixed at the middle of the upper half.
	require.Equal(t, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second,
		6 * time.Second, 6 * time.Second, 6 * time.Second}, gaps)
	ds, err := w.app.Alerts.Deliveries(w.ctx, w.owner, 1)
	require.NoError(t, err)
	require.Equal(t, alerts.StatusFailed, ds[0].Status)
	require.Len(t, ds[0].Attempts, 8)
	require.Equal(t, http.StatusBadGateway, *ds[0].Attempts[7].StatusCode)
	require.Equal(t, "status", ds[0].Attempts[7].Error)
}

// TestRuleNeverReportsThePast: a run that ended before the rule existed yields no
// delivery, however far behind the follower is.
func TestRuleNeverReportsThePast(t *testing.T) {
	t.Parallel()
	w := newWorld(t, pgtest.Fresh(t))
	w.endRun(t, "inventory.sync", w.tenants[0], failed("before any rule"))
	// Without rules the follower skips to the head without reading the log.
	n, err := w.follow(t)
	require.NoError(t, err)
	require.Zero(t, n)
	var pos, head int64
	require.NoError(t, w.app.Pool.QueryRow(w.ctx, `SELECT position FROM al_follower`).Scan(&pos))
	head, err = w.app.Store.Head(w.ctx)
	require.NoError(t, err)
	require.Equal(t, head, pos)
	// A run that ends before the rule, read after it: not reported.
	w.endRun(t, "inventory.sync", w.tenants[0], failed("before"))
	time.Sleep(2 * time.Millisecond)
	_, err = w.app.Alerts.CreateRule(w.ctx, alerts.Actor{UserID: w.owner}, alerts.NewRule{
		Events: []string{alerts.EventRunFailed}, URL: "https://hooks.example.test/", Secret: secret})
	require.NoError(t, err)
	n, err = w.follow(t)
	require.NoError(t, err)
	require.Zero(t, n)
	w.endRun(t, "inventory.sync", w.tenants[0], failed("after"))
	n, err = w.follow(t)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestSignature: Verify accepts what Sign made within the tolerance, and refuses a
// changed body, another secret and an old timestamp (a replay).
func TestSignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"x"}`)
	h := alerts.Sign(secret, now, body)
	require.Regexp(t, `^t=1800000000,v1=[0-9a-f]{64}$`, h)
	require.NoError(t, alerts.Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute))
	require.Error(t, alerts.Verify(secret, h, []byte(`{"id":"y"}`), now, 5*time.Minute))
	require.Error(t, alerts.Verify("another-secret-of-length", h, body, now, 5*time.Minute))
	require.Error(t, alerts.Verify(secret, h, body, now.Add(6*time.Minute), 5*time.Minute))
	require.Error(t, alerts.Verify(secret, "v1=abc", body, now, 5*time.Minute))
}

// TestWorkerFailureIsDelivered: a run failed by a worker (provider.verify against a
// simulator whose consent is missing) is delivered once, through the real gate, worker
// and terminal event, with its reason code and no token of the run's Graph calls.
func TestWorkerFailureIsDelivered(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	owner, err := e.App.Tenancy.RegisterUser(e.Ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "Owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, e.App.Tenancy.GrantMembership(e.Ctx, "system:test", tenancy.Membership{UserID: owner.ID, WorkspaceID: e.Workspace, Role: tenancy.RoleOwner}))
	rc := &receiver{delivered: map[string]int{}, bodies: map[string]alerts.Payload{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rule, err := e.App.Alerts.CreateRule(e.Ctx, alerts.Actor{UserID: owner.ID}, alerts.NewRule{Events: []string{alerts.EventRunFailed},
		URL: "http://" + ln.Addr().String() + "/hook", Secret: secret, Types: []string{"provider.verify"}, Tenants: []uuid.UUID{e.Tenant}})
	require.NoError(t, err)

	ok := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeSucceeded, ok.Outcome, ok.Message)
	e.Sim.SetFaults(e.EntraTenant, graphsim.Faults{ConsentMissing: true})
	bad := e.Run(t, "provider.verify", `{}`)
	require.Equal(t, operations.OutcomeFailed, bad.Outcome)

	require.NoError(t, e.App.Store.SealCommitted(e.Ctx))
	n, err := e.App.Alerts.Follow(e.Ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the failed run only")
	n, err = e.App.Alerts.Dispatch(e.Ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Zero(t, rc.badSigs)
	require.Len(t, rc.delivered, 1)
	for id, p := range rc.bodies {
		require.Equal(t, 1, rc.delivered[id])
		require.Equal(t, bad.ID, p.Run.ID)
		require.Equal(t, rule.ID, p.RuleID)
		require.Equal(t, "provider.verify", p.Run.Type)
		require.Equal(t, e.Tenant, *p.Run.TenantID)
		require.Equal(t, string(operations.ReasonProviderConsentMissing), p.Run.ReasonCode)
		raw, err := json.Marshal(p)
		require.NoError(t, err)
		require.NotContains(t, string(raw), monotest.TokenPrefix)
	}
	var inEvents int
	require.NoError(t, e.Pool.QueryRow(e.Ctx, `SELECT count(*) FROM es_events ev WHERE strpos(ev::text, $1) > 0`, secret).Scan(&inEvents))
	require.Zero(t, inEvents)
	require.NotContains(t, e.Logs.String(), secret)
}
