package msgraph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/graph/msgraph"
)

// benchGroups is the directory size both benchmarks page through.
const benchGroups = 10_000

func benchSim(b *testing.B) *graphsim.Server {
	b.Helper()
	sim := graphsim.Start(graphsim.Config{Groups: benchGroups, PageSize: 999})
	b.Cleanup(sim.Close)
	return sim
}

// BenchmarkRawPaging pages /v1.0/groups with a plain net/http client: the floor the
// SDK-backed client is measured against.
func BenchmarkRawPaging(b *testing.B) {
	sim := benchSim(b)
	resp, err := http.PostForm(sim.URL+"/"+tenantA+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"app-1"},
		"client_secret": {graphsim.DefaultClientSecret}, "scope": {msgraph.GraphScope},
	})
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		b.Fatalf("no token: %v", err)
	}
	groups, _ := graph.Lookup("groups")
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		n := 0
		next := groups.ListURL(sim.URL)
		for next != "" {
			req, _ := http.NewRequest(http.MethodGet, next, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Value    []map[string]any `json:"value"`
				NextLink string           `json:"@odata.nextLink"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			_ = resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			n += len(page.Value)
			next = page.NextLink
		}
		if n != benchGroups {
			b.Fatalf("listed %d groups", n)
		}
	}
	b.ReportMetric(float64(b.N*benchGroups)/time.Since(start).Seconds(), "groups/s")
}

// BenchmarkClientList lists the same groups through msgraph.Client (kiota adapter,
// middleware, retry transport, cached token).
func BenchmarkClientList(b *testing.B) {
	sim := benchSim(b)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(graphsim.DefaultClientSecret), 0o600); err != nil {
		b.Fatal(err)
	}
	conn := graph.Connection{EntraTenantID: tenantA, ClientID: "app-1", SecretRef: "file:secret", BaseURL: sim.URL}
	c := msgraph.New(msgraph.Options{SecretsDir: dir})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		n := 0
		err := c.List(ctx, conn, "groups", func(page []graph.Object) error {
			n += len(page)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != benchGroups {
			b.Fatalf("listed %d groups", n)
		}
	}
	b.ReportMetric(float64(b.N*benchGroups)/time.Since(start).Seconds(), "groups/s")
}
