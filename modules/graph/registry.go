package graph

import (
	"net/url"
	"strconv"
	"strings"
)

// Contract says where one object type lives in Graph and which fields a list reads.
type Contract struct {
	// Type is the registry name ("groups", "deviceConfigurations", ...).
	Type string
	// Path is the collection path below the API version, e.g. "/groups".
	Path string
	// APIVersion is "v1.0" or "beta".
	APIVersion string
	// Select lists the $select fields of a list request; Get reads the full object.
	Select []string
	// PageSize is the $top of a list request; 0 leaves the page size to Graph.
	PageSize int
	// Pages is true when the collection is paged with @odata.nextLink.
	Pages bool
	// Writable types accept Create and Update (restore writes them back); a write to any
	// other type fails with ErrContractMissing and no request is made.
	Writable bool
}

// ListURL is the absolute URL of the contract's first list page below base
// (e.g. "https://graph.microsoft.com"), with $select and $top.
func (c Contract) ListURL(base string) string {
	u := strings.TrimRight(base, "/") + "/" + c.APIVersion + c.Path
	var q []string
	if len(c.Select) > 0 {
		q = append(q, "$select="+strings.Join(c.Select, ","))
	}
	if c.PageSize > 0 {
		q = append(q, "$top="+strconv.Itoa(c.PageSize))
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	return u
}

// ItemURL is the absolute URL of one object of the contract's type below base.
// The id is path-escaped.
func (c Contract) ItemURL(base, id string) string {
	return strings.TrimRight(base, "/") + "/" + c.APIVersion + c.Path + "/" + url.PathEscape(id)
}

// policyListSelect is the list shape shared by the classic Intune policy collections.
var policyListSelect = []string{"id", "displayName", "description", "lastModifiedDateTime", "version", "@odata.type"}

// contracts is the registry. Nothing outside it is ever called.
var contracts = []Contract{
	{
		Type: "organization", Path: "/organization", APIVersion: "v1.0",
		Select: []string{"id", "displayName", "verifiedDomains"},
		Pages:  true,
	},
	{
		Type: "groups", Path: "/groups", APIVersion: "v1.0",
		Select:   []string{"id", "displayName", "description", "mail", "mailEnabled", "securityEnabled", "groupTypes"},
		PageSize: 999, Pages: true,
	},
	{
		Type: "roleDefinitions", Path: "/roleManagement/directory/roleDefinitions", APIVersion: "v1.0",
		Select: []string{"id", "displayName", "description", "isBuiltIn", "isEnabled", "templateId"},
		Pages:  true,
	},
	{
		Type: "deviceConfigurations", Path: "/deviceManagement/deviceConfigurations", APIVersion: "beta",
		Select: policyListSelect, Pages: true, Writable: true,
	},
	{
		Type: "compliancePolicies", Path: "/deviceManagement/deviceCompliancePolicies", APIVersion: "beta",
		Select: policyListSelect, Pages: true, Writable: true,
	},
	{
		Type: "settingsCatalogPolicies", Path: "/deviceManagement/configurationPolicies", APIVersion: "beta",
		Select: []string{"id", "name", "description", "lastModifiedDateTime", "platforms", "technologies", "settingCount"},
		Pages:  true, Writable: true,
	},
}

// Lookup returns the contract of objectType; false when the type is not registered.
func Lookup(objectType string) (Contract, bool) {
	for _, c := range contracts {
		if c.Type == objectType {
			return cloneContract(c), true
		}
	}
	return Contract{}, false
}

// Types returns every registered contract, in registry order.
func Types() []Contract {
	out := make([]Contract, len(contracts))
	for i, c := range contracts {
		out[i] = cloneContract(c)
	}
	return out
}

// ContractMissing is the error for an object type the registry does not know.
func ContractMissing(objectType string) *Error {
	return &Error{Kind: KindContractMissing, ObjectType: objectType, Message: "object type is not in the contract registry; no request was made"}
}

// LookupWritable returns the contract of objectType when it accepts writes; false when
// the type is not registered or is read-only.
func LookupWritable(objectType string) (Contract, bool) {
	c, ok := Lookup(objectType)
	return c, ok && c.Writable
}

// WriteContractMissing is the error for a write to a type the registry does not open to
// writes.
func WriteContractMissing(objectType string) *Error {
	return &Error{Kind: KindContractMissing, ObjectType: objectType, Message: "object type is not writable in the contract registry; no request was made"}
}

// CollectionURL is the absolute URL of the contract's collection below base (no query):
// where Create posts.
func (c Contract) CollectionURL(base string) string {
	return strings.TrimRight(base, "/") + "/" + c.APIVersion + c.Path
}

// cloneContract copies the Select slice so callers cannot change the registry.
func cloneContract(c Contract) Contract {
	c.Select = append([]string(nil), c.Select...)
	return c
}
