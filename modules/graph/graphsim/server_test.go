package graphsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph/graphsim"
)

const tenantA = "11111111-1111-1111-1111-111111111111"
const tenantB = "22222222-2222-2222-2222-222222222222"

func token(t *testing.T, sim *graphsim.Server, tenant, secret string) (int, map[string]any) {
	t.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"app-1"},
		"client_secret": {secret},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	resp, err := http.PostForm(sim.URL+"/"+tenant+"/oauth2/v2.0/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func mustToken(t *testing.T, sim *graphsim.Server, tenant string) string {
	t.Helper()
	status, body := token(t, sim, tenant, graphsim.DefaultClientSecret)
	require.Equal(t, 200, status)
	require.Equal(t, "Bearer", body["token_type"])
	require.EqualValues(t, 3599, body["expires_in"])
	return body["access_token"].(string)
}

func get(t *testing.T, rawURL, tok string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body), string(b))
	return resp.StatusCode, resp.Header, body
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{})
	t.Cleanup(sim.Close)

	mustToken(t, sim, tenantA)
	status, body := token(t, sim, tenantA, "wrong")
	require.Equal(t, 401, status)
	require.Equal(t, "invalid_client", body["error"])
	require.NotContains(t, body["error_description"], "wrong", "no echo without LeakToken")

	sim.SetFaults(tenantA, graphsim.Faults{ConsentMissing: true})
	status, body = token(t, sim, tenantA, graphsim.DefaultClientSecret)
	require.Equal(t, 400, status)
	require.Equal(t, "invalid_grant", body["error"])
	require.Contains(t, body["error_description"], "AADSTS65001")
	// Another tenant is not affected.
	mustToken(t, sim, tenantB)
	require.EqualValues(t, 4, sim.TokenRequests())
	require.EqualValues(t, 0, sim.Requests())
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{})
	t.Cleanup(sim.Close)
	status, _, body := get(t, sim.URL+"/v1.0/groups", "")
	require.Equal(t, 401, status)
	require.Equal(t, "InvalidAuthenticationToken", errorCode(body))
	tok := mustToken(t, sim, tenantA)
	status, _, _ = get(t, sim.URL+"/v1.0/groups", tok+"x")
	require.Equal(t, 401, status)
	// A token signed by a simulator with another secret is refused.
	other := graphsim.Start(graphsim.Config{ClientSecret: "other"})
	t.Cleanup(other.Close)
	status, _, _ = get(t, other.URL+"/v1.0/groups", tok)
	require.Equal(t, 401, status)
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Now().Unix())
	sim := graphsim.Start(graphsim.Config{TokenTTL: time.Minute, Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	t.Cleanup(sim.Close)
	tok := mustTokenTTL(t, sim)
	status, _, _ := get(t, sim.URL+"/v1.0/organization", tok)
	require.Equal(t, 200, status)
	now.Add(120)
	status, _, _ = get(t, sim.URL+"/v1.0/organization", tok)
	require.Equal(t, 401, status)
}

func mustTokenTTL(t *testing.T, sim *graphsim.Server) string {
	status, body := token(t, sim, tenantA, graphsim.DefaultClientSecret)
	require.Equal(t, 200, status)
	require.EqualValues(t, 60, body["expires_in"])
	return body["access_token"].(string)
}

func TestPagingSelectAndGet(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{Groups: 1234, PageSize: 500})
	t.Cleanup(sim.Close)
	tok := mustToken(t, sim, tenantA)

	next := sim.URL + "/v1.0/groups?$select=id,displayName&$top=999" // capped at 500
	seen := map[string]bool{}
	pages := 0
	for next != "" {
		status, _, body := get(t, next, tok)
		require.Equal(t, 200, status, body)
		pages++
		require.Equal(t, sim.URL+"/v1.0/$metadata#groups(id,displayName)", body["@odata.context"])
		for _, v := range body["value"].([]any) {
			g := v.(map[string]any)
			require.Len(t, g, 2, "only the selected fields")
			id := g["id"].(string)
			require.False(t, seen[id], "duplicate %s", id)
			seen[id] = true
		}
		next, _ = body["@odata.nextLink"].(string)
		if next != "" {
			require.True(t, strings.HasPrefix(next, sim.URL+"/v1.0/groups?"), next)
			require.Contains(t, next, "&$skiptoken=")
		}
	}
	require.Len(t, seen, 1234)
	require.Equal(t, 3, pages)
	require.EqualValues(t, 3, sim.Requests())
	require.EqualValues(t, 3, sim.PathRequests("/v1.0/groups"))

	// $top below the cap, no $select: the full objects.
	status, _, body := get(t, sim.URL+"/v1.0/groups?$top=7", tok)
	require.Equal(t, 200, status)
	require.Len(t, body["value"], 7)
	g := body["value"].([]any)[0].(map[string]any)
	require.Contains(t, g, "mailNickname")

	// GET by id returns the full object; policies carry nested settings.
	for _, typ := range []struct{ objectType, path string }{
		{"deviceConfigurations", "/beta/deviceManagement/deviceConfigurations/"},
		{"compliancePolicies", "/beta/deviceManagement/deviceCompliancePolicies/"},
		{"settingsCatalogPolicies", "/beta/deviceManagement/configurationPolicies/"},
		{"groups", "/v1.0/groups/"},
		{"roleDefinitions", "/v1.0/roleManagement/directory/roleDefinitions/"},
	} {
		objs := sim.Objects(tenantA, typ.objectType)
		require.NotEmpty(t, objs)
		status, _, body := get(t, sim.URL+typ.path+objs[0]["id"].(string), tok)
		require.Equal(t, 200, status)
		delete(body, "@odata.context")
		require.Equal(t, objs[0], body)
	}
	sc := sim.Objects(tenantA, "settingsCatalogPolicies")[0]
	require.NotEmpty(t, sc["settings"])
	require.Contains(t, sim.Objects(tenantA, "compliancePolicies")[0], "scheduledActionsForRule")

	status, _, body = get(t, sim.URL+"/v1.0/groups/does-not-exist", tok)
	require.Equal(t, 404, status)
	require.Equal(t, "Request_ResourceNotFound", errorCode(body))
	status, _, _ = get(t, sim.URL+"/v1.0/users", tok)
	require.Equal(t, 404, status)
	status, _, _ = get(t, sim.URL+"/v1.0/deviceManagement/deviceConfigurations", tok)
	require.Equal(t, 404, status, "policies are served under beta only")
	status, _, body = get(t, sim.URL+"/v1.0/groups?$skiptoken=garbage", tok)
	require.Equal(t, 400, status)
	require.Equal(t, "Directory_ExpiredPageToken", errorCode(body))
}

func TestDataDeterministicPerSeedAndTenant(t *testing.T) {
	t.Parallel()
	a1 := graphsim.New(graphsim.Config{Seed: 7})
	a2 := graphsim.New(graphsim.Config{Seed: 7})
	b := graphsim.New(graphsim.Config{Seed: 8})
	require.Equal(t, a1.Objects(tenantA, "groups"), a2.Objects(tenantA, "groups"))
	require.Equal(t, a1.Objects(tenantA, "settingsCatalogPolicies"), a2.Objects(tenantA, "settingsCatalogPolicies"))
	require.NotEqual(t, a1.Objects(tenantA, "groups"), a1.Objects(tenantB, "groups"))
	require.NotEqual(t, a1.Objects(tenantA, "groups"), b.Objects(tenantA, "groups"))
	require.Len(t, a1.Objects(tenantA, "groups"), 50)
	require.Len(t, a1.Objects(tenantA, "roleDefinitions"), 20)
	for _, typ := range []string{"deviceConfigurations", "compliancePolicies", "settingsCatalogPolicies"} {
		require.Len(t, a1.Objects(tenantA, typ), 10)
	}
	empty := graphsim.New(graphsim.Config{Groups: -1, Policies: -1})
	require.Empty(t, empty.Objects(tenantA, "groups"))
	require.Empty(t, empty.Objects(tenantA, "deviceConfigurations"))
	require.Len(t, empty.Objects(tenantA, "roleDefinitions"), 20)
	org := a1.Objects(tenantA, "organization")
	require.Len(t, org, 1)
	require.Equal(t, tenantA, org[0]["id"])
}

func TestTokenIsBoundToItsTenant(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{Seed: 1})
	t.Cleanup(sim.Close)
	for _, tenant := range []string{tenantA, tenantB} {
		status, _, body := get(t, sim.URL+"/v1.0/organization", mustToken(t, sim, tenant))
		require.Equal(t, 200, status)
		require.Equal(t, tenant, body["value"].([]any)[0].(map[string]any)["id"])
	}
}

func TestMutations(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{Policies: 3})
	t.Cleanup(sim.Close)
	tok := mustToken(t, sim, tenantA)
	objs := sim.Objects(tenantA, "deviceConfigurations")
	changed := objs[1]
	changed["displayName"] = "Changed"
	changed["passwordMinimumLength"] = 14
	sim.SetObject(tenantA, "deviceConfigurations", changed)
	changed["displayName"] = "not stored: SetObject copied"
	require.True(t, sim.DeleteObject(tenantA, "deviceConfigurations", objs[0]["id"].(string)))
	require.False(t, sim.DeleteObject(tenantA, "deviceConfigurations", "nope"))
	sim.SetObject(tenantA, "deviceConfigurations", map[string]any{"displayName": "New", "@odata.type": "#microsoft.graph.windows10GeneralConfiguration"})

	status, _, body := get(t, sim.URL+"/beta/deviceManagement/deviceConfigurations?$select=id,displayName", tok)
	require.Equal(t, 200, status)
	var names []string
	for _, v := range body["value"].([]any) {
		names = append(names, v.(map[string]any)["displayName"].(string))
	}
	require.Equal(t, []string{"Changed", objs[2]["displayName"].(string), "New"}, names)
	status, _, body = get(t, sim.URL+"/beta/deviceManagement/deviceConfigurations/"+objs[1]["id"].(string), tok)
	require.Equal(t, 200, status)
	require.EqualValues(t, 14, body["passwordMinimumLength"])
	status, _, _ = get(t, sim.URL+"/beta/deviceManagement/deviceConfigurations/"+objs[0]["id"].(string), tok)
	require.Equal(t, 404, status)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{})
	t.Cleanup(sim.Close)
	tokA, tokB := mustToken(t, sim, tenantA), mustToken(t, sim, tenantB)
	groups := sim.URL + "/v1.0/groups"

	sim.SetFaults(tenantA, graphsim.Faults{Throttle: 2, RetryAfter: "3", Unavailable: 1})
	status, h, body := get(t, groups, tokA)
	require.Equal(t, 429, status)
	require.Equal(t, "3", h.Get("Retry-After"))
	require.Equal(t, "TooManyRequests", errorCode(body))
	status, _, _ = get(t, groups, tokB)
	require.Equal(t, 200, status, "faults of tenant A do not reach tenant B")
	status, _, _ = get(t, groups, tokA)
	require.Equal(t, 429, status)
	status, h, body = get(t, groups, tokA)
	require.Equal(t, 503, status)
	require.Empty(t, h.Get("Retry-After"))
	require.Equal(t, "ServiceUnavailable", errorCode(body))
	status, _, _ = get(t, groups, tokA)
	require.Equal(t, 200, status)

	// Faults for all tenants.
	sim.SetFaults("", graphsim.Faults{PermissionDenied: []string{"groups"}})
	sim.SetFaults(tenantA, graphsim.Faults{})
	status, _, _ = get(t, groups, tokA)
	require.Equal(t, 200, status, "tenant A's own (empty) faults win over the global ones")
	status, _, body = get(t, groups, tokB)
	require.Equal(t, 403, status)
	require.Equal(t, "Authorization_RequestDenied", errorCode(body))
	status, _, _ = get(t, sim.URL+"/v1.0/organization", tokB)
	require.Equal(t, 200, status)

	// Consent revoked while a token is cached: data requests fail with AADSTS65001.
	sim.SetFaults(tenantB, graphsim.Faults{ConsentMissing: true})
	status, _, body = get(t, sim.URL+"/v1.0/organization", tokB)
	require.Equal(t, 401, status)
	require.Contains(t, body["error"].(map[string]any)["message"], "AADSTS65001")

	// LeakToken echoes the token and the secret (the client's tests prove it filters them).
	sim.SetFaults(tenantB, graphsim.Faults{LeakToken: true, PermissionDenied: []string{"organization"}})
	status, _, body = get(t, sim.URL+"/v1.0/organization", tokB)
	require.Equal(t, 403, status)
	raw, _ := json.Marshal(body)
	require.Contains(t, string(raw), tokB)
	require.Contains(t, string(raw), graphsim.DefaultClientSecret)

	// Latency.
	sim.SetFaults(tenantA, graphsim.Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	status, _, _ = get(t, sim.URL+"/v1.0/organization", tokA)
	require.Equal(t, 200, status)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestServeUntilCancelled(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- graphsim.Serve(ctx, ln, graphsim.Config{Logger: log, Groups: 3}) }()

	sim := &graphsim.Server{URL: "http://" + ln.Addr().String()}
	status, _, body := get(t, sim.URL+"/v1.0/groups", mustToken(t, sim, tenantA))
	require.Equal(t, 200, status)
	require.Len(t, body["value"], 3)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, logs.String(), `"url":"`+sim.URL+`"`)
	require.Contains(t, logs.String(), "graph simulator stopped")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestControlSwitchesFaults: with Config.Control, PUT ControlPath sets a tenant's faults
// (a throttled answer with Retry-After follows), DELETE clears them, a bad body is a
// 400; without Control the path is an ordinary (unknown, authenticated) Graph path.
func TestControlSwitchesFaults(t *testing.T) {
	t.Parallel()
	sim := graphsim.Start(graphsim.Config{Seed: 1, Control: true})
	defer sim.Close()
	tok := mustToken(t, sim, tenantA)
	do := func(method, path, body string) int {
		req, err := http.NewRequest(method, sim.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusNoContent, do(http.MethodPut, graphsim.ControlPath+"?tenant="+tenantA, `{"Throttle":1,"RetryAfter":"2"}`))
	status, header, _ := get(t, sim.URL+"/v1.0/groups", tok)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "2", header.Get("Retry-After"))
	require.Equal(t, http.StatusNoContent, do(http.MethodPut, graphsim.ControlPath, `{"Unavailable":5}`))
	require.Equal(t, http.StatusNoContent, do(http.MethodDelete, graphsim.ControlPath, ""))
	status, _, _ = get(t, sim.URL+"/v1.0/groups", tok)
	require.Equal(t, http.StatusOK, status, "DELETE cleared every fault")
	require.Equal(t, http.StatusBadRequest, do(http.MethodPut, graphsim.ControlPath, `{not json`))

	plain := graphsim.Start(graphsim.Config{Seed: 1})
	defer plain.Close()
	req, err := http.NewRequest(http.MethodPut, plain.URL+graphsim.ControlPath, strings.NewReader(`{"Throttle":1}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no control without Config.Control")
}
