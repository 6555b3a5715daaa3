package graphsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph/graphsim"
)

// TestRouter: requests for the router's host reach the simulator without a network
// (a token, then a page whose nextLink names the same host); others go to Next.
func TestRouter(t *testing.T) {
	t.Parallel()
	sim := graphsim.New(graphsim.Config{Seed: 1, Groups: 30, PageSize: 10})
	var passed []string
	client := &http.Client{Transport: graphsim.Router{Host: "graph-simulator.demo", Sim: sim,
		Next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			passed = append(passed, r.URL.Host)
			return &http.Response{StatusCode: http.StatusTeapot, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})}}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {graphsim.DefaultClientSecret},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, err := client.PostForm("http://graph-simulator.demo/contoso.example/oauth2/v2.0/token", form)
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(t, tok.AccessToken)

	req, _ := http.NewRequest("GET", "http://graph-simulator.demo/v1.0/groups?$top=10", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	require.NoError(t, err)
	var page struct {
		Value    []map[string]any `json:"value"`
		NextLink string           `json:"@odata.nextLink"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	resp.Body.Close()
	require.Len(t, page.Value, 10)
	require.True(t, strings.HasPrefix(page.NextLink, "http://graph-simulator.demo/v1.0/groups?"), page.NextLink)
	require.Empty(t, passed, "nothing left the process")

	resp, err = client.Get("http://elsewhere.example/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
	require.Equal(t, []string{"elsewhere.example"}, passed)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
