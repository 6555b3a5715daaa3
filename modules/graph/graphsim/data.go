package graphsim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"slices"
	"time"
)

// tenantData is one tenant's objects per registry type, in list order. Stored maps are
// never changed in place (SetObject replaces them), so a page can be encoded outside
// the lock.
type tenantData struct {
	objects map[string][]map[string]any
}

// data returns tenant's objects, generating them on first use; the caller holds s.mu.
func (s *Server) data(tenant string) *tenantData {
	if d, ok := s.tenants[tenant]; ok {
		return d
	}
	d := generate(s.cfg, tenant)
	s.tenants[tenant] = d
	return d
}

// page returns up to top objects of objectType from offset, and the total count.
func (s *Server) page(tenant, objectType string, offset, top int) ([]map[string]any, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.data(tenant).objects[objectType]
	if offset >= len(all) {
		return nil, len(all)
	}
	end := min(offset+top, len(all))
	return slices.Clone(all[offset:end]), len(all)
}

// object returns a top-level copy of one object.
func (s *Server) object(tenant, objectType, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.data(tenant).objects[objectType] {
		if o["id"] == id {
			out := make(map[string]any, len(o)+1)
			for k, v := range o {
				out[k] = v
			}
			return out, true
		}
	}
	return nil, false
}

// Objects returns a deep copy of every object of objectType in tenant, in list order.
func (s *Server) Objects(tenant, objectType string) []map[string]any {
	s.mu.Lock()
	all := slices.Clone(s.data(tenant).objects[objectType])
	s.mu.Unlock()
	out := make([]map[string]any, len(all))
	for i, o := range all {
		out[i] = deepCopy(o)
	}
	return out
}

// SetObject replaces the object of objectType in tenant with the same "id", or appends
// it when no object has that id (an object without an id gets a new one). The object is
// copied; later changes to obj do not reach the simulator.
func (s *Server) SetObject(tenant, objectType string, obj map[string]any) {
	o := deepCopy(obj)
	if id, _ := o["id"].(string); id == "" {
		o["id"] = newUUID(nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data(tenant)
	list := d.objects[objectType]
	for i, cur := range list {
		if cur["id"] == o["id"] {
			list = slices.Clone(list)
			list[i] = o
			d.objects[objectType] = list
			return
		}
	}
	d.objects[objectType] = append(slices.Clip(list), o)
}

// DeleteObject removes the object with id from tenant's objectType; false when absent.
func (s *Server) DeleteObject(tenant, objectType, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data(tenant)
	list := d.objects[objectType]
	for i, cur := range list {
		if cur["id"] == id {
			d.objects[objectType] = slices.Delete(slices.Clone(list), i, i+1)
			return true
		}
	}
	return false
}

// deepCopy copies a JSON-shaped value through encoding/json.
func deepCopy(in map[string]any) map[string]any {
	b, err := json.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("graphsim: object is not JSON: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("graphsim: object is not JSON: %v", err))
	}
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// newUUID draws a version-4 UUID from r (crypto/rand when nil).
func newUUID(r *mrand.Rand) string {
	var b [16]byte
	if r == nil {
		_, _ = rand.Read(b[:])
	} else {
		for i := 0; i < 16; i += 8 {
			v := r.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// generate builds a tenant's data from (cfg.Seed, tenant) alone.
func generate(cfg Config, tenant string) *tenantData {
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenant))
	r := mrand.New(mrand.NewPCG(uint64(cfg.Seed), h.Sum64()))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	when := func() string {
		return base.Add(time.Duration(r.IntN(700*24)) * time.Hour).Format(time.RFC3339)
	}
	tag := tenant
	if len(tag) > 8 {
		tag = tag[:8]
	}
	domain := "contoso-" + fmt.Sprintf("%x", h.Sum64()&0xffffff) + ".onmicrosoft.com"

	d := &tenantData{objects: map[string][]map[string]any{}}
	d.objects["organization"] = []map[string]any{{
		"id":                tenant,
		"displayName":       "Contoso " + tag,
		"tenantType":        "AAD",
		"countryLetterCode": "DE",
		"preferredLanguage": "en",
		"createdDateTime":   when(),
		"verifiedDomains": []any{
			map[string]any{"name": domain, "isDefault": true, "isInitial": true, "type": "Managed", "capabilities": "Email, OfficeCommunicationsOnline"},
		},
		"assignedPlans": []any{
			map[string]any{"service": "SCO", "capabilityStatus": "Enabled", "servicePlanId": newUUID(r)},
		},
	}}

	words := []string{"Finance", "Sales", "Engineering", "Support", "Marketing", "Legal", "HR", "Operations", "Devices", "Pilot"}
	groups := make([]map[string]any, cfg.Groups)
	for i := range groups {
		w := words[r.IntN(len(words))]
		unified := r.IntN(3) == 0
		nick := fmt.Sprintf("grp%05d", i+1)
		g := map[string]any{
			"id":                 newUUID(r),
			"displayName":        fmt.Sprintf("%s %05d", w, i+1),
			"description":        fmt.Sprintf("%s team group %d", w, i+1),
			"mailNickname":       nick,
			"mailEnabled":        unified,
			"securityEnabled":    !unified || r.IntN(2) == 0,
			"groupTypes":         []any{},
			"mail":               nil,
			"createdDateTime":    when(),
			"visibility":         "Private",
			"securityIdentifier": fmt.Sprintf("S-1-12-1-%d-%d-%d-%d", r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()),
		}
		if unified {
			g["groupTypes"] = []any{"Unified"}
			g["mail"] = nick + "@" + domain
		}
		groups[i] = g
	}
	d.objects["groups"] = groups

	builtIn := []string{"Global Administrator", "Intune Administrator", "Security Reader", "Global Reader", "User Administrator", "Groups Administrator", "Cloud Device Administrator", "Helpdesk Administrator"}
	roles := make([]map[string]any, cfg.RoleDefinitions)
	for i := range roles {
		id := newUUID(r)
		name, isBuiltIn := fmt.Sprintf("Custom role %03d", i+1), false
		if i < len(builtIn) {
			name, isBuiltIn = builtIn[i], true
		}
		roles[i] = map[string]any{
			"id":          id,
			"templateId":  id,
			"displayName": name,
			"description": "Can manage " + words[r.IntN(len(words))] + " resources.",
			"isBuiltIn":   isBuiltIn,
			"isEnabled":   r.IntN(10) != 0,
			"version":     "1",
			"rolePermissions": []any{map[string]any{
				"allowedResourceActions": []any{"microsoft.directory/groups/standard/read", "microsoft.directory/groups/members/read"},
				"condition":              nil,
			}},
		}
	}
	d.objects["roleDefinitions"] = roles

	configTypes := []string{"#microsoft.graph.windows10GeneralConfiguration", "#microsoft.graph.iosGeneralDeviceConfiguration", "#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration", "#microsoft.graph.windows10CustomConfiguration"}
	complianceTypes := []string{"#microsoft.graph.windows10CompliancePolicy", "#microsoft.graph.iosCompliancePolicy", "#microsoft.graph.androidWorkProfileCompliancePolicy", "#microsoft.graph.macOSCompliancePolicy"}
	var configs, compliance, catalog []map[string]any
	for i := range cfg.Policies {
		t := configTypes[r.IntN(len(configTypes))]
		p := map[string]any{
			"@odata.type":            t,
			"id":                     newUUID(r),
			"displayName":            fmt.Sprintf("Baseline %s %03d", words[r.IntN(len(words))], i+1),
			"description":            "Device configuration managed by TenantAtlas",
			"createdDateTime":        when(),
			"lastModifiedDateTime":   when(),
			"version":                1 + r.IntN(9),
			"roleScopeTagIds":        []any{"0"},
			"passwordRequired":       r.IntN(2) == 0,
			"passwordMinimumLength":  6 + r.IntN(10),
			"passwordExpirationDays": 30 * (1 + r.IntN(6)),
			"screenCaptureBlocked":   r.IntN(2) == 0,
			"bluetoothBlocked":       r.IntN(4) == 0,
			"defenderScanType":       []string{"userDefined", "quick", "full"}[r.IntN(3)],
			"defenderDetectedMalwareActions": map[string]any{
				"lowSeverity": "clean", "moderateSeverity": "quarantine", "highSeverity": "remove", "severeSeverity": "block",
			},
		}
		if t == "#microsoft.graph.windows10CustomConfiguration" {
			p["omaSettings"] = []any{
				map[string]any{"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "Max inactivity", "omaUri": "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock", "value": 5 + r.IntN(25)},
				map[string]any{"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Lock screen text", "omaUri": "./Device/Vendor/MSFT/Policy/Config/DeviceLock/LockScreenText", "value": "Property of Contoso"},
			}
		}
		configs = append(configs, p)

		ct := complianceTypes[r.IntN(len(complianceTypes))]
		compliance = append(compliance, map[string]any{
			"@odata.type":              ct,
			"id":                       newUUID(r),
			"displayName":              fmt.Sprintf("Compliance %s %03d", words[r.IntN(len(words))], i+1),
			"description":              "Compliance policy managed by TenantAtlas",
			"createdDateTime":          when(),
			"lastModifiedDateTime":     when(),
			"version":                  1 + r.IntN(9),
			"roleScopeTagIds":          []any{"0"},
			"passwordRequired":         true,
			"passwordMinimumLength":    8 + r.IntN(8),
			"osMinimumVersion":         fmt.Sprintf("10.0.%d", 19041+r.IntN(4000)),
			"storageRequireEncryption": r.IntN(2) == 0,
			"secureBootEnabled":        true,
			"scheduledActionsForRule": []any{map[string]any{
				"ruleName": "PasswordRequired",
				"scheduledActionConfigurations": []any{
					map[string]any{"actionType": "block", "gracePeriodHours": 24 * r.IntN(4), "notificationTemplateId": "", "notificationMessageCCList": []any{}},
				},
			}},
		})

		n := 2 + r.IntN(4)
		settings := make([]any, n)
		for j := range settings {
			def := fmt.Sprintf("device_vendor_msft_policy_config_setting%02d", r.IntN(60))
			settings[j] = map[string]any{
				"id": fmt.Sprint(j),
				"settingInstance": map[string]any{
					"@odata.type":         "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
					"settingDefinitionId": def,
					"choiceSettingValue": map[string]any{
						"value":    fmt.Sprintf("%s_%d", def, r.IntN(2)),
						"children": []any{},
					},
				},
			}
		}
		catalog = append(catalog, map[string]any{
			"id":                   newUUID(r),
			"name":                 fmt.Sprintf("Settings catalog %s %03d", words[r.IntN(len(words))], i+1),
			"description":          "Settings catalog policy managed by TenantAtlas",
			"platforms":            []string{"windows10", "macOS", "iOS"}[r.IntN(3)],
			"technologies":         "mdm",
			"createdDateTime":      when(),
			"lastModifiedDateTime": when(),
			"settingCount":         n,
			"roleScopeTagIds":      []any{"0"},
			"templateReference":    map[string]any{"templateId": "", "templateFamily": "none", "templateDisplayName": nil, "templateDisplayVersion": nil},
			"settings":             settings,
		})
	}
	d.objects["deviceConfigurations"] = configs
	d.objects["compliancePolicies"] = compliance
	d.objects["settingsCatalogPolicies"] = catalog
	// Normalize every object to its JSON form (ints become float64, []string []any) so
	// that what Objects returns equals what a client decodes.
	for typ, list := range d.objects {
		for i, o := range list {
			list[i] = deepCopy(o)
		}
		d.objects[typ] = list
	}
	return d
}
