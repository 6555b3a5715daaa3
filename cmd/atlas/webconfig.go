package main

import (
	"fmt"
	"time"

	"github.com/tenantatlas/ops/web"
)

// webEdge is the HTTP edge's configuration from the environment: the reverse proxies
// whose forwarded headers are believed (ATLAS_TRUSTED_PROXIES, comma-separated IPs and
// CIDRs, default none) and every request's deadline (ATLAS_REQUEST_TIMEOUT, default 30s).
func webEdge(env *cli) (proxies []string, timeout time.Duration, err error) {
	if proxies, err = web.ParseTrustedProxies(env.getenv("ATLAS_TRUSTED_PROXIES")); err != nil {
		return nil, 0, fmt.Errorf("ATLAS_TRUSTED_PROXIES: %w", err)
	}
	if v := env.getenv("ATLAS_REQUEST_TIMEOUT"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
			return nil, 0, fmt.Errorf("ATLAS_REQUEST_TIMEOUT: %q is not a positive duration such as 30s", v)
		}
	}
	return proxies, timeout, nil
}
