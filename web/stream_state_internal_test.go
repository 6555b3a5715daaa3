package web

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/operations"
)

// TestStreamStateShortReason: the live stream carries the reason code's label once a
// run has a reason (the viewer shows it without a reload), and nothing before.
func TestStreamStateShortReason(t *testing.T) {
	t.Parallel()
	running := stateOf(&operations.Run{Status: operations.StatusRunning, Outcome: operations.OutcomePending}, nil)
	raw, err := json.Marshal(running)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "shortReason")
	blocked := stateOf(&operations.Run{Status: operations.StatusCompleted, Outcome: operations.OutcomeBlocked,
		ReasonCode: operations.ReasonProviderConsentMissing, Message: "no consent"}, nil)
	require.Equal(t, "Admin consent missing", blocked.ShortReason)
	require.Equal(t, "provider_consent_missing — no consent", blocked.Reason)
}
