package msgraph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/graph/msgraph"
)

const (
	tenantA = "11111111-1111-1111-1111-111111111111"
	tenantB = "22222222-2222-2222-2222-222222222222"
)

// sleeps records the retry waits instead of sleeping them.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// bundle is one test's simulator, client and connections.
type bundle struct {
	sim    *graphsim.Server
	client graph.Client
	conn   graph.Connection // tenant A
	connB  graph.Connection
	sleeps *sleeps
	logs   *syncBuffer
	seen   *authRecorder
	dir    string // the client's secrets directory
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// authRecorder is a transport that passes requests on and remembers every bearer token
// sent, so tests can prove none of them leaks.
type authRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	tokens map[string]bool
}

func (a *authRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		a.mu.Lock()
		a.tokens[strings.TrimPrefix(h, "Bearer ")] = true
		a.mu.Unlock()
	}
	return a.next.RoundTrip(r)
}

func (a *authRecorder) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for t := range a.tokens {
		out = append(out, t)
	}
	return out
}

func setup(t *testing.T, cfg graphsim.Config, retry graph.RetryPolicy) *bundle {
	t.Helper()
	sim := graphsim.Start(cfg)
	t.Cleanup(sim.Close)
	b := &bundle{sim: sim, sleeps: &sleeps{}, logs: &syncBuffer{}, dir: t.TempDir()}
	b.seen = &authRecorder{next: http.DefaultTransport, tokens: map[string]bool{}}
	if retry.Sleep == nil {
		retry.Sleep = b.sleeps.Sleep
	}
	if retry.BaseDelay == 0 {
		retry.BaseDelay = time.Millisecond
	}
	b.client = msgraph.New(msgraph.Options{
		HTTPClient: &http.Client{Transport: b.seen},
		Retry:      retry,
		Logger:     slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout:    30 * time.Second,
		SecretsDir: b.dir,
	})
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "secret"), []byte(sim.Config().ClientSecret+"\n"), 0o600))
	b.conn = graph.Connection{EntraTenantID: tenantA, ClientID: "app-1", SecretRef: "file:secret", BaseURL: sim.URL}
	b.connB = b.conn
	b.connB.EntraTenantID = tenantB
	return b
}

// listAll collects every object of objectType.
func listAll(ctx context.Context, c graph.Client, conn graph.Connection, objectType string) ([]graph.Object, int, error) {
	var all []graph.Object
	pages := 0
	err := c.List(ctx, conn, objectType, func(page []graph.Object) error {
		pages++
		all = append(all, page...)
		return nil
	})
	return all, pages, err
}

func requireKind(t *testing.T, err error, kind graph.Kind, status int) *graph.Error {
	t.Helper()
	require.Error(t, err)
	var ge *graph.Error
	require.True(t, errors.As(err, &ge), "%T %v", err, err)
	require.Equal(t, kind, ge.Kind, ge.Error())
	require.Equal(t, status, ge.Status, ge.Error())
	return ge
}

func TestUnknownTypeMakesNoRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{}, graph.RetryPolicy{})
	ctx := context.Background()
	for _, typ := range []string{"users", "", "Groups", "../groups"} {
		err := b.client.List(ctx, b.conn, typ, func([]graph.Object) error { return nil })
		ge := requireKind(t, err, graph.KindContractMissing, 0)
		require.Equal(t, typ, ge.ObjectType)
		_, err = b.client.Get(ctx, b.conn, typ, "x")
		requireKind(t, err, graph.KindContractMissing, 0)
	}
	require.EqualValues(t, 0, b.sim.Requests())
	require.EqualValues(t, 0, b.sim.TokenRequests())
}

func TestListPagesEveryGroupOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{Groups: 2500, PageSize: 999}, graph.RetryPolicy{})
	all, pages, err := listAll(context.Background(), b.client, b.conn, "groups")
	require.NoError(t, err)
	require.Len(t, all, 2500)
	require.Equal(t, 3, pages) // 999 + 999 + 502
	want := b.sim.Objects(tenantA, "groups")
	seen := map[string]bool{}
	for i, g := range all {
		require.False(t, seen[g.ID()], "duplicate %s", g.ID())
		seen[g.ID()] = true
		require.Equal(t, want[i]["id"], g.ID())
		// Only the contract's $select fields.
		for k := range g {
			require.Contains(t, []string{"id", "displayName", "description", "mail", "mailEnabled", "securityEnabled", "groupTypes"}, k)
		}
		require.Equal(t, want[i]["displayName"], g["displayName"])
	}
	require.EqualValues(t, 3, b.sim.Requests())
	require.EqualValues(t, 1, b.sim.TokenRequests())

	// The token is cached: a second listing asks for none.
	_, _, err = listAll(context.Background(), b.client, b.conn, "groups")
	require.NoError(t, err)
	require.EqualValues(t, 1, b.sim.TokenRequests())
}

func TestEveryRegistryTypeListsAndGets(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{Policies: 4, RoleDefinitions: 9, Groups: 5}, graph.RetryPolicy{})
	ctx := context.Background()
	for _, c := range graph.Types() {
		all, _, err := listAll(ctx, b.client, b.conn, c.Type)
		require.NoError(t, err, c.Type)
		want := b.sim.Objects(tenantA, c.Type)
		require.Len(t, all, len(want), c.Type)
		full, err := b.client.Get(ctx, b.conn, c.Type, all[0].ID())
		require.NoError(t, err, c.Type)
		require.Equal(t, graph.Object(want[0]), full, c.Type)
	}
	sc, err := b.client.Get(ctx, b.conn, "settingsCatalogPolicies", b.sim.Objects(tenantA, "settingsCatalogPolicies")[0]["id"].(string))
	require.NoError(t, err)
	require.NotEmpty(t, sc["settings"], "backups capture the nested settings")

	_, err = b.client.Get(ctx, b.conn, "groups", "no-such-group")
	requireKind(t, err, graph.KindNotFound, 404)

	// The connection decides the tenant.
	org, _, err := listAll(ctx, b.client, b.connB, "organization")
	require.NoError(t, err)
	require.Equal(t, tenantB, org[0].ID())
}

func TestDriftBetweenTwoListings(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{Policies: 3}, graph.RetryPolicy{})
	ctx := context.Background()
	before, _, err := listAll(ctx, b.client, b.conn, "compliancePolicies")
	require.NoError(t, err)
	p := b.sim.Objects(tenantA, "compliancePolicies")[0]
	p["displayName"] = "Renamed"
	b.sim.SetObject(tenantA, "compliancePolicies", p)
	require.True(t, b.sim.DeleteObject(tenantA, "compliancePolicies", before[2].ID()))
	after, _, err := listAll(ctx, b.client, b.conn, "compliancePolicies")
	require.NoError(t, err)
	require.Len(t, after, 2)
	require.Equal(t, "Renamed", after[0]["displayName"])
}

func TestThrottlingStormOneRetryLayer(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []string{"0", "1"} {
		b := setup(t, graphsim.Config{Groups: 10}, graph.RetryPolicy{MaxAttempts: 25, MaxElapsed: time.Hour})
		b.sim.SetFaults("", graphsim.Faults{Throttle: 20, RetryAfter: retryAfter})
		all, _, err := listAll(context.Background(), b.client, b.conn, "groups")
		require.NoError(t, err)
		require.Len(t, all, 10)
		// 20 throttled answers + 1 success: each 429 was retried exactly once, by one layer.
		require.EqualValues(t, 21, b.sim.Requests())
		waits := b.sleeps.all()
		require.Len(t, waits, 20)
		for _, w := range waits {
			require.Equal(t, map[string]time.Duration{"0": 0, "1": time.Second}[retryAfter], w)
		}
	}
}

func TestUnavailableBurst(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{Groups: 10}, graph.RetryPolicy{BaseDelay: 4 * time.Millisecond, MaxDelay: time.Second})
	b.sim.SetFaults(tenantA, graphsim.Faults{Unavailable: 3})
	all, _, err := listAll(context.Background(), b.client, b.conn, "groups")
	require.NoError(t, err)
	require.Len(t, all, 10)
	require.EqualValues(t, 4, b.sim.Requests())
	waits := b.sleeps.all()
	require.Len(t, waits, 3)
	for i, w := range waits { // no Retry-After: full jitter within 4, 8, 16 ms
		require.GreaterOrEqual(t, w, time.Duration(0))
		require.LessOrEqual(t, w, (4<<i)*time.Millisecond)
	}
}

func TestBoundedGiveUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		faults graphsim.Faults
		kind   graph.Kind
		status int
	}{
		{graphsim.Faults{Throttle: 100, RetryAfter: "0"}, graph.KindThrottled, 429},
		{graphsim.Faults{Throttle: 100}, graph.KindThrottled, 429},
		{graphsim.Faults{Unavailable: 100}, graph.KindUnavailable, 503},
	} {
		b := setup(t, graphsim.Config{}, graph.RetryPolicy{MaxAttempts: 4})
		b.sim.SetFaults("", tc.faults)
		_, _, err := listAll(context.Background(), b.client, b.conn, "groups")
		requireKind(t, err, tc.kind, tc.status)
		// Exactly MaxAttempts requests: kiota's RetryHandler (3 more per answer) is not
		// in the chain, or this would be 16.
		require.EqualValues(t, 4, b.sim.Requests())
		require.Len(t, b.sleeps.all(), 3)
	}
}

func TestGiveUpOnElapsedBudget(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var slept time.Duration
	b := setup(t, graphsim.Config{}, graph.RetryPolicy{MaxAttempts: 10, MaxElapsed: 50 * time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept += d
		mu.Unlock()
		time.Sleep(d)
		return ctx.Err()
	}})
	b.sim.SetFaults("", graphsim.Faults{Throttle: 100, RetryAfter: "1"})
	_, _, err := listAll(context.Background(), b.client, b.conn, "groups")
	requireKind(t, err, graph.KindThrottled, 429)
	require.EqualValues(t, 1, b.sim.Requests(), "a 1 s Retry-After does not fit a 50 ms budget")
	// What the client chose to wait, not the wall clock (a loaded machine is slow anyway).
	mu.Lock()
	defer mu.Unlock()
	require.Less(t, slept, 50*time.Millisecond, "the client never waits past its budget")
}

func TestConsentMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// At token time: no data request is made.
	b := setup(t, graphsim.Config{}, graph.RetryPolicy{})
	b.sim.SetFaults(tenantA, graphsim.Faults{ConsentMissing: true})
	_, _, err := listAll(ctx, b.client, b.conn, "groups")
	ge := requireKind(t, err, graph.KindConsentMissing, 400)
	require.Equal(t, "groups", ge.ObjectType)
	require.EqualValues(t, 0, b.sim.Requests())
	require.EqualValues(t, 1, b.sim.TokenRequests())
	_, err = b.client.Get(ctx, b.conn, "deviceConfigurations", "x")
	requireKind(t, err, graph.KindConsentMissing, 400)
	// Tenant B is unaffected.
	_, _, err = listAll(ctx, b.client, b.connB, "groups")
	require.NoError(t, err)

	// Revoked while a run holds a cached token.
	b = setup(t, graphsim.Config{}, graph.RetryPolicy{})
	_, _, err = listAll(ctx, b.client, b.conn, "groups")
	require.NoError(t, err)
	b.sim.SetFaults(tenantA, graphsim.Faults{ConsentMissing: true})
	_, _, err = listAll(ctx, b.client, b.conn, "groups")
	requireKind(t, err, graph.KindConsentMissing, 401)
	require.EqualValues(t, 1, b.sim.TokenRequests(), "the cached token was used")
	// The refused token was dropped: the next call asks the token endpoint, which refuses.
	_, _, err = listAll(ctx, b.client, b.conn, "groups")
	requireKind(t, err, graph.KindConsentMissing, 400)
	require.EqualValues(t, 2, b.sim.TokenRequests())
}

func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{}, graph.RetryPolicy{})
	b.sim.SetFaults("", graphsim.Faults{PermissionDenied: []string{"deviceConfigurations"}})
	ctx := context.Background()
	_, _, err := listAll(ctx, b.client, b.conn, "deviceConfigurations")
	ge := requireKind(t, err, graph.KindPermissionDenied, 403)
	require.Contains(t, ge.Message, "Authorization_RequestDenied")
	require.EqualValues(t, 1, b.sim.Requests(), "403 is not retried")
	_, _, err = listAll(ctx, b.client, b.conn, "compliancePolicies")
	require.NoError(t, err)
}

func TestInvalidClient(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{ClientSecret: "right"}, graph.RetryPolicy{})
	ctx := context.Background()
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "wrong"), []byte("wrong"), 0o600))
	conn := b.conn
	conn.SecretRef = "file:wrong"
	_, _, err := listAll(ctx, b.client, conn, "groups")
	requireKind(t, err, graph.KindInvalidClient, 401)
	require.EqualValues(t, 0, b.sim.Requests())

	// Unresolvable references and incomplete connections fail before any request.
	for _, ref := range []string{"", "env:ATLAS_GRAPH_SECRET_UNSET_XYZ", "file:nonexistent/secret", "plain-secret"} {
		conn.SecretRef = ref
		_, _, err = listAll(ctx, b.client, conn, "groups")
		requireKind(t, err, graph.KindInvalidClient, 0)
	}
	require.EqualValues(t, 1, b.sim.TokenRequests())
	require.EqualValues(t, 0, b.sim.Requests())

	// env: references resolve through Options.Getenv.
	c := msgraph.New(msgraph.Options{Getenv: func(k string) string {
		return map[string]string{"ATLAS_GRAPH_SECRET_SIM": "right"}[k]
	}})
	conn.SecretRef = "env:ATLAS_GRAPH_SECRET_SIM"
	all, _, err := listAll(ctx, c, conn, "organization")
	require.NoError(t, err)
	require.Len(t, all, 1)
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{ClientSecret: "s3cr3t-VALUE-42"}, graph.RetryPolicy{MaxAttempts: 2})
	ctx := context.Background()
	// Get a token into the cache, then make every failure echo it and the secret.
	_, _, err := listAll(ctx, b.client, b.conn, "organization")
	require.NoError(t, err)
	var errs []error
	b.sim.SetFaults(tenantA, graphsim.Faults{LeakToken: true, PermissionDenied: []string{"groups"}})
	_, _, err = listAll(ctx, b.client, b.conn, "groups")
	errs = append(errs, err)
	_, err = b.client.Get(ctx, b.conn, "groups", "x")
	errs = append(errs, err)
	b.sim.SetFaults(tenantA, graphsim.Faults{LeakToken: true, Throttle: 10, RetryAfter: "0"})
	_, _, err = listAll(ctx, b.client, b.conn, "groups")
	errs = append(errs, err)
	b.sim.SetFaults(tenantA, graphsim.Faults{LeakToken: true, Unavailable: 10})
	_, err = b.client.Get(ctx, b.conn, "deviceConfigurations", "x")
	errs = append(errs, err)
	b.sim.SetFaults(tenantA, graphsim.Faults{LeakToken: true, ConsentMissing: true})
	_, _, err = listAll(ctx, b.client, b.conn, "groups") // 401 with the cached token
	errs = append(errs, err)
	_, _, err = listAll(ctx, b.client, b.conn, "groups") // token endpoint echoes the secret
	errs = append(errs, err)
	// A wrong secret echoed back by the token endpoint.
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "wrong"), []byte("wrong-but-secret-too"), 0o600))
	conn := b.connB
	conn.SecretRef = "file:wrong"
	b.sim.SetFaults(tenantB, graphsim.Faults{LeakToken: true})
	_, _, err = listAll(ctx, b.client, conn, "groups")
	errs = append(errs, err)

	tokens := b.seen.all()
	require.NotEmpty(t, tokens)
	secrets := append(tokens, "s3cr3t-VALUE-42", "wrong-but-secret-too", "Bearer")
	logs := b.logs.String()
	require.NotEmpty(t, logs, "the retries were logged")
	for i, err := range errs {
		require.Error(t, err, i)
		text := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
		for _, s := range secrets {
			require.NotContains(t, text, s, "error %d", i)
			require.NotContains(t, logs, s)
		}
	}
	require.Equal(t, graph.KindPermissionDenied, graph.KindOf(errs[0]))
	require.Equal(t, graph.KindThrottled, graph.KindOf(errs[2]))
	require.Equal(t, graph.KindUnavailable, graph.KindOf(errs[3]))
	require.Equal(t, graph.KindConsentMissing, graph.KindOf(errs[4]))
	require.Equal(t, graph.KindConsentMissing, graph.KindOf(errs[5]))
	require.Equal(t, graph.KindInvalidClient, graph.KindOf(errs[6]))
}

func TestConcurrentLists(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{Groups: 1500, PageSize: 999}, graph.RetryPolicy{})
	b.sim.SetFaults("", graphsim.Faults{Throttle: 5, RetryAfter: "0"})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		conn := b.conn
		if i%2 == 1 {
			conn = b.connB
		}
		wg.Go(func() {
			all, _, err := listAll(context.Background(), b.client, conn, "groups")
			if err == nil && len(all) != 1500 {
				err = fmt.Errorf("listed %d groups", len(all))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// 32 listings of 2 pages plus the 5 throttled answers; one token per tenant.
	require.EqualValues(t, 32*2+5, b.sim.Requests())
	require.EqualValues(t, 2, b.sim.TokenRequests())
}

func TestCallbackErrorStopsListing(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{Groups: 300, PageSize: 100}, graph.RetryPolicy{})
	stop := errors.New("enough")
	pages := 0
	err := b.client.List(context.Background(), b.conn, "groups", func([]graph.Object) error {
		pages++
		return stop
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, pages)
	require.EqualValues(t, 1, b.sim.Requests())
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, graphsim.Config{}, graph.RetryPolicy{})
	_, _, err := listAll(context.Background(), b.client, b.conn, "organization") // token cached
	require.NoError(t, err)
	b.sim.SetFaults(tenantA, graphsim.Faults{Latency: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err = listAll(ctx, b.client, b.conn, "groups")
	requireKind(t, err, graph.KindTimeout, 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWritesCreateUpdateThrottleFail(t *testing.T) {
	b := setup(t, graphsim.Config{}, graph.RetryPolicy{MaxAttempts: 4})
	ctx := context.Background()
	policies := b.sim.Objects(tenantA, "compliancePolicies")
	id0, id1 := policies[0]["id"].(string), policies[1]["id"].(string)
	b.sim.SetFaults(tenantA, graphsim.Faults{WriteThrottle: []string{id0}, RetryAfter: "2", WriteFail: []string{id1}})

	// Update: the first PATCH is throttled (Retry-After honoured), the retry lands.
	require.NoError(t, b.client.Update(ctx, b.conn, "compliancePolicies", id0, graph.Object{"description": "restored"}))
	got, err := b.client.Get(ctx, b.conn, "compliancePolicies", id0)
	require.NoError(t, err)
	require.Equal(t, "restored", got["description"])
	require.Equal(t, policies[0]["displayName"], got["displayName"])
	require.Contains(t, b.sleeps.all(), 2*time.Second)
	require.Equal(t, int64(2), b.sim.PathRequests("/beta/deviceManagement/deviceCompliancePolicies/"+id0)-1) // two PATCHes, one GET

	// A failing item answers 400: request_failed, nothing written.
	err = b.client.Update(ctx, b.conn, "compliancePolicies", id1, graph.Object{"description": "x"})
	requireKind(t, err, graph.KindRequestFailed, 400)
	require.Equal(t, policies[1]["description"], b.sim.Objects(tenantA, "compliancePolicies")[1]["description"])

	// Create: a new id, the object listed afterwards.
	created, err := b.client.Create(ctx, b.conn, "compliancePolicies", graph.Object{"id": id0, "displayName": "Recreated", "@odata.type": "#microsoft.graph.windows10CompliancePolicy"})
	require.NoError(t, err)
	require.NotEmpty(t, created.ID())
	require.NotEqual(t, id0, created.ID())
	require.Len(t, b.sim.Objects(tenantA, "compliancePolicies"), len(policies)+1)

	// Read-only and unknown types: no request at all.
	before := b.sim.Requests()
	requireKind(t, b.client.Update(ctx, b.conn, "groups", "g", graph.Object{}), graph.KindContractMissing, 0)
	_, err = b.client.Create(ctx, b.conn, "nope", graph.Object{})
	requireKind(t, err, graph.KindContractMissing, 0)
	require.Equal(t, before, b.sim.Requests())
}
