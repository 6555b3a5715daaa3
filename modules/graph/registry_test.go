package graph_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/graph"
)

func TestRegistryContracts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, path, version string
		sel                []string
		pageSize           int
	}{
		{"organization", "/organization", "v1.0", []string{"id", "displayName", "verifiedDomains"}, 0},
		{"groups", "/groups", "v1.0", []string{"id", "displayName", "description", "mail", "mailEnabled", "securityEnabled", "groupTypes"}, 999},
		{"roleDefinitions", "/roleManagement/directory/roleDefinitions", "v1.0", []string{"id", "displayName", "description", "isBuiltIn", "isEnabled", "templateId"}, 0},
		{"deviceConfigurations", "/deviceManagement/deviceConfigurations", "beta", []string{"id", "displayName", "description", "lastModifiedDateTime", "version", "@odata.type"}, 0},
		{"compliancePolicies", "/deviceManagement/deviceCompliancePolicies", "beta", []string{"id", "displayName", "description", "lastModifiedDateTime", "version", "@odata.type"}, 0},
		{"settingsCatalogPolicies", "/deviceManagement/configurationPolicies", "beta", []string{"id", "name", "description", "lastModifiedDateTime", "platforms", "technologies", "settingCount"}, 0},
	}
	require.Len(t, graph.Types(), len(tests))
	for i, tc := range tests {
		c, ok := graph.Lookup(tc.typ)
		require.True(t, ok, tc.typ)
		require.Equal(t, tc.typ, c.Type)
		require.Equal(t, tc.path, c.Path)
		require.Equal(t, tc.version, c.APIVersion)
		require.Equal(t, tc.sel, c.Select)
		require.Equal(t, tc.pageSize, c.PageSize)
		require.True(t, c.Pages)
		require.Equal(t, tc.typ, graph.Types()[i].Type)
	}
}

func TestRegistryUnknownAndCopies(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "users", "Groups", "groups ", "deviceManagement"} {
		_, ok := graph.Lookup(typ)
		require.False(t, ok, typ)
	}
	err := error(graph.ContractMissing("users"))
	var ge *graph.Error
	require.True(t, errors.As(err, &ge))
	require.Equal(t, graph.KindContractMissing, graph.KindOf(err))

	// A caller changing its copy does not change the registry.
	c, _ := graph.Lookup("groups")
	c.Select[0] = "secret"
	c2, _ := graph.Lookup("groups")
	require.Equal(t, "id", c2.Select[0])
}

func TestContractURLs(t *testing.T) {
	t.Parallel()
	g, _ := graph.Lookup("groups")
	require.Equal(t, "https://graph.microsoft.com/v1.0/groups?$select=id,displayName,description,mail,mailEnabled,securityEnabled,groupTypes&$top=999",
		g.ListURL("https://graph.microsoft.com/"))
	require.Equal(t, "http://127.0.0.1:1/v1.0/groups/a%2Fb", g.ItemURL("http://127.0.0.1:1", "a/b"))
	d, _ := graph.Lookup("deviceConfigurations")
	require.Equal(t, "http://x/beta/deviceManagement/deviceConfigurations/id1", d.ItemURL("http://x", "id1"))
}
