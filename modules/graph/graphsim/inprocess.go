package graphsim

import (
	"net/http"
	"net/http/httptest"
)

// Router is an http.RoundTripper that answers requests for Host with the simulator,
// in-process and without a network, and sends every other request to Next. The demo
// tenants' connections name such a host, so `atlas serve`, `atlas worker` and
// `atlas dev` work their runs against the simulator wherever they run.
type Router struct {
	// Host is the simulator's host name, e.g. "graph-simulator.demo".
	Host string
	// Sim answers Host's requests.
	Sim *Server
	// Next carries every other request (nil: http.DefaultTransport).
	Next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (rt Router) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != rt.Host {
		next := rt.Next
		if next == nil {
			next = http.DefaultTransport
		}
		return next.RoundTrip(req)
	}
	// The handler sees what a server would: Host and RequestURI set, the body owned.
	in := req.Clone(req.Context())
	in.Host, in.RequestURI = req.URL.Host, req.URL.RequestURI()
	rec := httptest.NewRecorder()
	rt.Sim.ServeHTTP(rec, in)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
