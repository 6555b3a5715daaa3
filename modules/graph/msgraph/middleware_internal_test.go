package msgraph

import (
	"testing"

	khttp "github.com/microsoft/kiota-http-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/stretchr/testify/require"
)

// The SDK's default chain has kiota's RetryHandler; ours has everything else but it.
func TestMiddlewaresLeaveOutKiotaRetry(t *testing.T) {
	t.Parallel()
	hasRetry := func(ms []khttp.Middleware) int {
		n := 0
		for _, m := range ms {
			if _, ok := m.(*khttp.RetryHandler); ok {
				n++
			}
		}
		return n
	}
	defaults := core.GetDefaultMiddlewaresWithOptions(&core.GraphClientOptions{})
	require.Equal(t, 1, hasRetry(defaults), "the SDK default includes a retry handler")
	ours := middlewares()
	require.Equal(t, 0, hasRetry(ours))
	require.Len(t, ours, len(defaults)-1)
}
