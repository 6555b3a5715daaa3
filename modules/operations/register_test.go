package operations_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

// TestRegistrationPanics: a precondition or context validator for an unknown run type,
// or a second one for a type, panics with a message naming the registration.
func TestRegistrationPanics(t *testing.T) {
	t.Parallel()
	ops := operations.New(nil, nil, nil, nil, operations.Options{})
	pre := func(context.Context, operations.StartRequest) (*operations.RunError, error) { return nil, nil }
	val := func(json.RawMessage) error { return nil }

	require.PanicsWithValue(t, "operations: Precondition: unknown run type no.such.type", func() { ops.Precondition("no.such.type", pre) })
	require.PanicsWithValue(t, "operations: ValidateContext: unknown run type no.such.type", func() { ops.ValidateContext("no.such.type", val) })

	ops.Precondition("drift.generate", pre)
	ops.ValidateContext("drift.generate", val)
	require.PanicsWithValue(t, "operations: Precondition: two preconditions for drift.generate", func() { ops.Precondition("drift.generate", pre) })
	require.PanicsWithValue(t, "operations: ValidateContext: two validators for drift.generate", func() { ops.ValidateContext("drift.generate", val) })
}
