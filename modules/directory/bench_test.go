package directory_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
)

const benchGroups = 10000

var benchSim = graphsim.Config{Seed: 9, Groups: benchGroups, PageSize: 999}

// BenchmarkGroupsSync: directory.groups.sync of 10,000 groups through the whole run
// path (start gate → dispatch → worker → msgraph client → simulator → upserts →
// RunCompleted), in groups/s. Compare with BenchmarkRawPaging of the same run.
func BenchmarkGroupsSync(b *testing.B) {
	e := monotest.New(b, pgtest.Fresh(b), monotest.Options{Sim: benchSim})
	b.ResetTimer()
	for range b.N {
		run := e.Run(b, "directory.groups.sync", `{}`)
		require.Equal(b, operations.OutcomeSucceeded, run.Outcome)
		require.Equal(b, int64(benchGroups), run.Counts["succeeded"])
	}
	b.ReportMetric(float64(benchGroups*b.N)/b.Elapsed().Seconds(), "groups/s")
}

// BenchmarkRawPaging pages the simulator's /v1.0/groups with a plain net/http client
// (a token, then $select/$top pages following @odata.nextLink): the ceiling of what a
// sync can do against the same simulator.
func BenchmarkRawPaging(b *testing.B) {
	sim := graphsim.Start(benchSim)
	defer sim.Close()
	tenant := "raw-paging-tenant"
	resp, err := http.PostForm(sim.URL+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"bench"}, "client_secret": {sim.Config().ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	require.NoError(b, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(b, tok.AccessToken)
	first := sim.URL + "/v1.0/groups?$select=id,displayName,description,mail,mailEnabled,securityEnabled,groupTypes&$top=999"
	b.ResetTimer()
	for range b.N {
		n := 0
		for next := first; next != ""; {
			req, err := http.NewRequest(http.MethodGet, next, nil)
			require.NoError(b, err)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(b, err)
			var page struct {
				Value    []map[string]any `json:"value"`
				NextLink string           `json:"@odata.nextLink"`
			}
			require.NoError(b, json.NewDecoder(resp.Body).Decode(&page))
			resp.Body.Close()
			require.Equal(b, http.StatusOK, resp.StatusCode)
			n += len(page.Value)
			next = page.NextLink
			if next != "" && !strings.HasPrefix(next, "http") {
				next = sim.URL + next
			}
		}
		require.Equal(b, benchGroups, n)
	}
	b.ReportMetric(float64(benchGroups*b.N)/b.Elapsed().Seconds(), "groups/s")
}
