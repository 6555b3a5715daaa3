package tenancy

import (
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/eventstore"
)

// Stream types of the tenancy module's streams ("<type>-<uuid>").
const (
	// StreamWorkspace holds WorkspaceCreated, MembershipGranted and MembershipRevoked.
	StreamWorkspace = "workspace"
	// StreamTenant holds TenantAdded.
	StreamTenant = "tenant"
	// StreamUser holds UserRegistered, APITokenIssued, APITokenRevoked, UserDisabled,
	// UserPasswordChanged and UserSessionsRevoked.
	StreamUser = "user"
	// StreamProviderConnection holds ProviderConnectionAdded, ProviderConnectionStatusChanged
	// and ProviderConnectionEndpointChanged.
	StreamProviderConnection = "providerconnection"
	// StreamPlatformUser holds PlatformUserCreated, PlatformUserSessionsRevoked and
	// PlatformUserDisabled (platform.go).
	StreamPlatformUser = "platformuser"
)

// The event payloads below are the audit record of every tenancy change. They carry
// ids, names, roles and statuses only: never a password, a hash, a token or a secret
// (not even a secret's reference).

// WorkspaceCreated records a new workspace (stream workspace-<id>).
type WorkspaceCreated struct {
	// WorkspaceID is the new workspace's id.
	WorkspaceID uuid.UUID `json:"workspaceId"`
	// Name is the workspace's name.
	Name string `json:"name"`
}

// EventType implements eventstore.Event.
func (WorkspaceCreated) EventType() string { return "WorkspaceCreated" }

// TenantAdded records a managed tenant added to a workspace (stream tenant-<id>).
type TenantAdded struct {
	// TenantID is the new tenant's id.
	TenantID uuid.UUID `json:"tenantId"`
	// WorkspaceID is the workspace the tenant belongs to.
	WorkspaceID uuid.UUID `json:"workspaceId"`
	// Name is the tenant's display name.
	Name string `json:"name"`
	// ExternalTenantID is the Entra tenant id or primary domain.
	ExternalTenantID string `json:"externalTenantId"`
}

// EventType implements eventstore.Event.
func (TenantAdded) EventType() string { return "TenantAdded" }

// UserRegistered records a new user (stream user-<id>); the password is not recorded.
type UserRegistered struct {
	// UserID is the new user's id.
	UserID uuid.UUID `json:"userId"`
	// Email is the normalized (lower-case) email address.
	Email string `json:"email"`
	// DisplayName is the user's display name.
	DisplayName string `json:"displayName"`
}

// EventType implements eventstore.Event.
func (UserRegistered) EventType() string { return "UserRegistered" }

// MembershipGranted records a role granted or changed (stream workspace-<id>).
type MembershipGranted struct {
	// UserID is the member.
	UserID uuid.UUID `json:"userId"`
	// WorkspaceID is the workspace of the membership.
	WorkspaceID uuid.UUID `json:"workspaceId"`
	// TenantID is the tenant of a tenant-level membership; absent for the whole workspace.
	TenantID uuid.UUID `json:"tenantId,omitzero"`
	// Role is the role granted.
	Role Role `json:"role"`
	// PreviousRole is the role replaced, empty for a new membership.
	PreviousRole Role `json:"previousRole,omitempty"`
}

// EventType implements eventstore.Event.
func (MembershipGranted) EventType() string { return "MembershipGranted" }

// MembershipRevoked records a membership removed (stream workspace-<id>).
type MembershipRevoked struct {
	// UserID is the former member.
	UserID uuid.UUID `json:"userId"`
	// WorkspaceID is the workspace of the membership.
	WorkspaceID uuid.UUID `json:"workspaceId"`
	// TenantID is the tenant of a tenant-level membership; absent for the whole workspace.
	TenantID uuid.UUID `json:"tenantId,omitzero"`
	// Role is the role the membership had.
	Role Role `json:"role"`
}

// EventType implements eventstore.Event.
func (MembershipRevoked) EventType() string { return "MembershipRevoked" }

// APITokenIssued records an API token issued or imported (stream user-<owner id>).
type APITokenIssued struct {
	// TokenID is the token's id (not the token).
	TokenID uuid.UUID `json:"tokenId"`
	// UserID is the token's owner.
	UserID uuid.UUID `json:"userId"`
	// Name is the token's label.
	Name string `json:"name"`
	// Imported is true when the plaintext was chosen by the caller (ImportToken).
	Imported bool `json:"imported,omitempty"`
}

// EventType implements eventstore.Event.
func (APITokenIssued) EventType() string { return "APITokenIssued" }

// APITokenRevoked records an API token revoked (stream user-<owner id>).
type APITokenRevoked struct {
	// TokenID is the token's id.
	TokenID uuid.UUID `json:"tokenId"`
	// UserID is the token's owner.
	UserID uuid.UUID `json:"userId"`
}

// EventType implements eventstore.Event.
func (APITokenRevoked) EventType() string { return "APITokenRevoked" }

// UserDisabled records a user disabled (stream user-<id>): every session ended, sign-in
// and API tokens refused from then on.
type UserDisabled struct {
	// UserID is the user.
	UserID uuid.UUID `json:"userId"`
	// SessionVersion is the user's new session version.
	SessionVersion int64 `json:"sessionVersion"`
}

// EventType implements eventstore.Event.
func (UserDisabled) EventType() string { return "UserDisabled" }

// UserPasswordChanged records a user's password set anew (stream user-<id>); neither the
// password nor its hash is recorded. Every session of the user ended with it.
type UserPasswordChanged struct {
	// UserID is the user.
	UserID uuid.UUID `json:"userId"`
	// SessionVersion is the user's new session version.
	SessionVersion int64 `json:"sessionVersion"`
}

// EventType implements eventstore.Event.
func (UserPasswordChanged) EventType() string { return "UserPasswordChanged" }

// UserSessionsRevoked records every hub session of a user ended (stream user-<id>), on
// logout.
type UserSessionsRevoked struct {
	// UserID is the user.
	UserID uuid.UUID `json:"userId"`
	// SessionVersion is the user's new session version.
	SessionVersion int64 `json:"sessionVersion"`
	// Reason says why, e.g. "logout".
	Reason string `json:"reason"`
}

// EventType implements eventstore.Event.
func (UserSessionsRevoked) EventType() string { return "UserSessionsRevoked" }

// ProviderConnectionAdded records a provider connection added to a tenant (stream
// providerconnection-<id>); the secret reference is reduced to SecretRefSet.
type ProviderConnectionAdded struct {
	// ConnectionID is the new connection's id.
	ConnectionID uuid.UUID `json:"connectionId"`
	// TenantID is the tenant the connection serves.
	TenantID uuid.UUID `json:"tenantId"`
	// Provider is the provider, e.g. "microsoft".
	Provider string `json:"provider"`
	// DisplayName is the connection's label.
	DisplayName string `json:"displayName"`
	// IsDefault is true when the connection became the tenant's default.
	IsDefault bool `json:"isDefault"`
	// Status is the connection's initial status.
	Status ConnectionStatus `json:"status"`
	// EntraTenantID is the Entra tenant the connection signs in to.
	EntraTenantID string `json:"entraTenantId"`
	// ClientID is the app registration's client (application) id.
	ClientID string `json:"clientId"`
	// GraphBaseURL is the Graph endpoint override, empty for the real Graph.
	GraphBaseURL string `json:"graphBaseUrl,omitempty"`
	// SecretRefSet tells whether a secret reference was configured.
	SecretRefSet bool `json:"secretRefSet"`
}

// EventType implements eventstore.Event.
func (ProviderConnectionAdded) EventType() string { return "ProviderConnectionAdded" }

// ProviderConnectionStatusChanged records a connection's status change (stream
// providerconnection-<id>).
type ProviderConnectionStatusChanged struct {
	// ConnectionID is the connection's id.
	ConnectionID uuid.UUID `json:"connectionId"`
	// TenantID is the tenant the connection serves.
	TenantID uuid.UUID `json:"tenantId"`
	// From is the previous status.
	From ConnectionStatus `json:"from"`
	// To is the new status.
	To ConnectionStatus `json:"to"`
	// Reason is the caller's short reason (a reason code or sanitized text).
	Reason string `json:"reason,omitempty"`
}

// EventType implements eventstore.Event.
func (ProviderConnectionStatusChanged) EventType() string { return "ProviderConnectionStatusChanged" }

// ProviderConnectionEndpointChanged records a connection pointed at another Graph
// endpoint (stream providerconnection-<id>): the dev hub's simulator, for one.
type ProviderConnectionEndpointChanged struct {
	// ConnectionID is the connection's id.
	ConnectionID uuid.UUID `json:"connectionId"`
	// TenantID is the tenant the connection serves.
	TenantID uuid.UUID `json:"tenantId"`
	// From and To are the previous and the new Graph base URL ("" = the real Graph).
	From string `json:"from"`
	To   string `json:"to"`
}

// EventType implements eventstore.Event.
func (ProviderConnectionEndpointChanged) EventType() string {
	return "ProviderConnectionEndpointChanged"
}

// RegisterEvents registers the tenancy module's events (schema version 1 each) in r.
func RegisterEvents(r *eventstore.Registry) {
	r.Register(WorkspaceCreated{}, 1)
	r.Register(TenantAdded{}, 1)
	r.Register(UserRegistered{}, 1)
	r.Register(MembershipGranted{}, 1)
	r.Register(MembershipRevoked{}, 1)
	r.Register(APITokenIssued{}, 1)
	r.Register(APITokenRevoked{}, 1)
	r.Register(ProviderConnectionAdded{}, 1)
	r.Register(ProviderConnectionStatusChanged{}, 1)
	r.Register(ProviderConnectionEndpointChanged{}, 1)
	r.Register(UserDisabled{}, 1)
	r.Register(UserPasswordChanged{}, 1)
	r.Register(UserSessionsRevoked{}, 1)
	r.Register(PlatformUserCreated{}, 1)
	r.Register(PlatformUserSessionsRevoked{}, 1)
	r.Register(PlatformUserDisabled{}, 1)
}
