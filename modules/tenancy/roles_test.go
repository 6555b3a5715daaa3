package tenancy_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestRoleCapabilities is the resolver's golden table: every role × every capability.
func TestRoleCapabilities(t *testing.T) {
	t.Parallel()
	const (
		O = tenancy.RoleOwner
		M = tenancy.RoleManager
		P = tenancy.RoleOperator
		R = tenancy.RoleReadonly
		C = tenancy.RoleCompliance
	)
	want := map[tenancy.Capability][]tenancy.Role{
		tenancy.CapAuditExport:     {O, M, C},
		tenancy.CapAuditView:       {O, M, C},
		tenancy.CapBackupManage:    {O, M, P},
		tenancy.CapDirectorySync:   {O, M, P},
		tenancy.CapDriftGenerate:   {O, M, P},
		tenancy.CapInventorySync:   {O, M, P},
		tenancy.CapMembersManage:   {O, M},
		tenancy.CapOperationsView:  {O, M, P, R, C},
		tenancy.CapProviderManage:  {O, M},
		tenancy.CapProviderVerify:  {O, M, P},
		tenancy.CapRestoreExecute:  {O, M},
		tenancy.CapWorkspaceManage: {O},
	}
	require.Len(t, tenancy.Capabilities(), len(want), "every capability has a row")
	require.Equal(t, []tenancy.Role{O, M, P, R, C}, tenancy.Roles())
	for _, role := range tenancy.Roles() {
		var wantCaps []tenancy.Capability
		for _, c := range tenancy.Capabilities() {
			allowed := slices.Contains(want[c], role)
			require.Equal(t, allowed, role.Can(c), "%s can %s", role, c)
			if allowed {
				wantCaps = append(wantCaps, c)
			}
		}
		got := tenancy.RoleCapabilities(role)
		require.Equal(t, wantCaps, got, "RoleCapabilities(%s)", role)
		require.True(t, slices.IsSorted(got), "RoleCapabilities(%s) is sorted", role)
	}
	require.Empty(t, tenancy.RoleCapabilities("admin"))
	require.False(t, tenancy.Role("admin").Can(tenancy.CapOperationsView))
	require.False(t, tenancy.RoleOwner.Can("operations.delete"))

	// The returned slice is a copy: changing it changes nothing.
	caps := tenancy.RoleCapabilities(tenancy.RoleReadonly)
	caps[0] = tenancy.CapRestoreExecute
	require.False(t, tenancy.RoleReadonly.Can(tenancy.CapRestoreExecute))

	// The same matrix as text, for reviewers: testdata/role_capabilities.golden.
	var sb strings.Builder
	sb.WriteString("capability       ")
	for _, r := range tenancy.Roles() {
		sb.WriteString(" " + string(r))
	}
	sb.WriteString("\n")
	for _, c := range tenancy.Capabilities() {
		sb.WriteString(string(c) + strings.Repeat(" ", 17-len(c)))
		for _, r := range tenancy.Roles() {
			mark := "-"
			if r.Can(c) {
				mark = "x"
			}
			sb.WriteString(" " + mark + strings.Repeat(" ", len(r)-1))
		}
		sb.WriteString("\n")
	}
	lines := strings.Split(sb.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	gotText := strings.Join(lines, "\n")
	golden := filepath.Join("testdata", "role_capabilities.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(gotText), 0o644))
	}
	wantText, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestRoleCapabilities -update to create it")
	require.Equal(t, string(wantText), gotText)
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range tenancy.Roles() {
		got, err := tenancy.ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	for _, bad := range []string{"", "Owner", "admin", " owner", "owner "} {
		_, err := tenancy.ParseRole(bad)
		require.ErrorIs(t, err, tenancy.ErrInvalid, bad)
	}
}

func TestCapabilityValid(t *testing.T) {
	t.Parallel()
	for _, c := range tenancy.Capabilities() {
		require.True(t, c.Valid(), c)
	}
	require.False(t, tenancy.Capability("").Valid())
	require.False(t, tenancy.Capability("operations.delete").Valid())
}
