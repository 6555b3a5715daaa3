package web

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/projections"
)

// TestRunCSVRecordNeutralizesFormulas: a cell a spreadsheet would evaluate (OWASP CSV
// injection: = + - @ tab CR first) gets a leading quote; other cells are unchanged.
func TestRunCSVRecordNeutralizesFormulas(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	r := runRow{RunSummary: projections.RunSummary{ID: uuid.New(), Type: "drift.generate", TypeLabel: "Drift generation",
		TenantID: &tenant, Initiator: `=HYPERLINK("http://evil","x")`, QueuedAt: time.Unix(0, 0)}, TenantName: "@SUM(A1)"}
	rec := runCSVRecord(r)
	require.Len(t, rec, len(runCSVHeader))
	require.Equal(t, `'=HYPERLINK("http://evil","x")`, rec[10])
	require.Equal(t, "'@SUM(A1)", rec[4])
	require.Equal(t, "Drift generation", rec[2])
	for in, want := range map[string]string{"+1": "'+1", "-2": "'-2", "\tx": "'\tx", "\rx": "'\rx", "ok": "ok", "": "", "a=b": "a=b"} {
		require.Equal(t, want, csvCell(in), "%q", in)
	}
}
