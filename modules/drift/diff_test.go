package drift

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/inventory"
)

func item(t *testing.T, typ string, obj map[string]any) inventory.Item {
	t.Helper()
	it, ok := inventory.NewItem(typ, obj)
	require.True(t, ok)
	return it
}

func TestDiff(t *testing.T) {
	t.Parallel()
	dc := "deviceConfigurations"
	a := map[string]any{"id": "a", "displayName": "Wi-Fi", "description": "corp", "version": float64(1), "secretSetting": "x"}
	aRenamed := map[string]any{"id": "a", "displayName": "Wi-Fi (corp)", "description": "corp", "version": float64(2), "secretSetting": "y"}
	aOnlyPayload := map[string]any{"id": "a", "displayName": "Wi-Fi", "description": "corp", "version": float64(1), "secretSetting": "changed"}
	b := map[string]any{"id": "b", "displayName": "VPN"}
	c := map[string]any{"id": "c", "name": "Edge baseline", "settingCount": float64(4)}
	cMore := map[string]any{"id": "c", "name": "Edge baseline", "settingCount": float64(5)}
	for _, tc := range []struct {
		name      string
		base, cur []inventory.Item
		want      []Finding
	}{
		{"nothing changed", []inventory.Item{item(t, dc, a), item(t, dc, b)}, []inventory.Item{item(t, dc, b), item(t, dc, a)}, nil},
		{"empty", nil, nil, nil},
		{"added", []inventory.Item{item(t, dc, a)}, []inventory.Item{item(t, dc, a), item(t, dc, b)},
			[]Finding{{PolicyType: dc, PolicyID: "b", DisplayName: "VPN", Kind: Added}}},
		{"removed", []inventory.Item{item(t, dc, a), item(t, dc, b)}, []inventory.Item{item(t, dc, a)},
			[]Finding{{PolicyType: dc, PolicyID: "b", DisplayName: "VPN", Kind: Removed}}},
		{"changed names the whitelisted fields only", []inventory.Item{item(t, dc, a)}, []inventory.Item{item(t, dc, aRenamed)},
			[]Finding{{PolicyType: dc, PolicyID: "a", DisplayName: "Wi-Fi (corp)", Kind: Changed, Changes: []Change{
				{Field: "displayName", Before: "Wi-Fi", After: "Wi-Fi (corp)"},
				{Field: "version", Before: float64(1), After: float64(2)}}}}},
		{"a change outside the whitelist is no drift", []inventory.Item{item(t, dc, a)}, []inventory.Item{item(t, dc, aOnlyPayload)}, nil},
		{"same id, other type: one added, one removed", []inventory.Item{item(t, dc, b)}, []inventory.Item{item(t, "compliancePolicies", b)},
			[]Finding{{PolicyType: "compliancePolicies", PolicyID: "b", DisplayName: "VPN", Kind: Added},
				{PolicyType: dc, PolicyID: "b", DisplayName: "VPN", Kind: Removed}}},
		{"a field that appears", []inventory.Item{item(t, dc, b)}, []inventory.Item{item(t, dc, map[string]any{"id": "b", "displayName": "VPN", "description": "new"})},
			[]Finding{{PolicyType: dc, PolicyID: "b", DisplayName: "VPN", Kind: Changed, Changes: []Change{{Field: "description", Before: nil, After: "new"}}}}},
		{"all kinds, ordered by type and id", []inventory.Item{item(t, dc, a), item(t, dc, b), item(t, "settingsCatalogPolicies", c)},
			[]inventory.Item{item(t, "settingsCatalogPolicies", cMore), item(t, dc, aRenamed), item(t, "compliancePolicies", a)},
			[]Finding{
				{PolicyType: "compliancePolicies", PolicyID: "a", DisplayName: "Wi-Fi", Kind: Added},
				{PolicyType: dc, PolicyID: "a", DisplayName: "Wi-Fi (corp)", Kind: Changed, Changes: []Change{
					{Field: "displayName", Before: "Wi-Fi", After: "Wi-Fi (corp)"}, {Field: "version", Before: float64(1), After: float64(2)}}},
				{PolicyType: dc, PolicyID: "b", DisplayName: "VPN", Kind: Removed},
				{PolicyType: "settingsCatalogPolicies", PolicyID: "c", DisplayName: "Edge baseline", Kind: Changed, Changes: []Change{
					{Field: "settingCount", Before: float64(4), After: float64(5)}}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Diff(tc.base, tc.cur))
		})
	}
}
