// Package tenancy is the tenancy module: workspaces, the managed tenants in them,
// users, memberships, roles and their capabilities, API tokens, provider connections,
// and the one authorization function the rest of the monolith asks.
//
// # State and events
//
// The module owns the tn_ tables (migrations/) and reads only them.
// Every change writes its rows and appends one past-tense event, in the same
// transaction, for the audit log:
//
//	stream                      events
//	workspace-<id>              WorkspaceCreated, MembershipGranted, MembershipRevoked
//	tenant-<id>                 TenantAdded
//	user-<id>                   UserRegistered, APITokenIssued, APITokenRevoked, UserDisabled,
//	                            UserPasswordChanged, UserSessionsRevoked
//	providerconnection-<id>     ProviderConnectionAdded, ProviderConnectionStatusChanged, ProviderConnectionEndpointChanged
//	platformuser-<id>           PlatformUserCreated, PlatformUserSessionsRevoked, PlatformUserDisabled
//
// Logout, SetPassword and DisableUser also append an AuditRecorded entry (modules/audit)
// in the same transaction, and Login appends one per sign-in attempt; the sign-in
// throttle's counters (tn_login_throttle) are operational state and append nothing.
// A command that changes nothing (granting the role a membership already has, revoking
// a revoked token, setting the status a connection already has, importing a token
// again) appends nothing. Payloads carry ids, names, roles and statuses only: never a
// password, a hash, a token or a secret, and a provider connection's secret reference
// is reduced to "secretRefSet".
//
// # Roles and capabilities
//
// RoleCapabilities is the resolver (the table is in roles.go and in
// testdata/role_capabilities.golden): owner may do everything; manager everything but
// workspace.manage; operator operations.view, inventory.sync, directory.sync,
// drift.generate, backup.manage and provider.verify; readonly operations.view;
// compliance operations.view, audit.view and audit.export.
//
// # Platform users
//
// The operators of the /system panel are platform users (tn_platform_users,
// platform.go), apart from workspace users: no membership, no API token, a set of
// platform capabilities (PlatformCapabilities: platform.ops.view, platform.runbooks.view,
// platform.runbooks.run, platform.runbooks.findings.lifecycle_backfill), a break-glass
// flag, a session version and a disabled flag of their own. CreatePlatformUser,
// PlatformLogout and DisablePlatformUser append their event and an audit entry in one
// transaction; PlatformLogin is throttled per client address and email together (keys
// "system:<address>|<email>" in the hub's tn_login_throttle), runs bcrypt under the same
// cap and audits every attempt (platform.auth.login).
//
// # Authorization: 404 versus 403
//
// A workspace-level membership gives its role on every tenant of the workspace; a
// tenant-level membership gives its role on that tenant only, and where a user has
// both, the tenant-level role wins on that tenant (even when it is the lower one).
// Authorize answers NotFound for an unknown tenant and for a user with no role on it
// (existence is never revealed), Forbidden for a member whose role lacks the
// capability, and Allowed otherwise. AuthorizeWorkspace does the same for actions on
// the workspace as a whole, counting workspace-level roles only. VisibleTenants lists
// the tenants on which a user has a capability, for list filters.
//
// # Credentials
//
// Passwords are bcrypt hashes; AuthenticatePassword runs bcrypt for unknown emails too.
// Login is the hub's sign-in: failures are throttled per client address and per account
// (LoginFailureLimit per LoginFailureWindow, counted in tn_login_throttle so the limit
// holds across processes, checked before bcrypt runs), bcrypt work is capped per process
// (Options.MaxConcurrentBcrypt), and every outcome is an audit entry (auth.login with the
// attempted email, address and user agent, never the password). Each user has a session
// version that hub sessions carry: Logout, SetPassword and DisableUser raise it, ending
// every session of the user at once; a disabled user's API tokens stop working too.
// API tokens are "atl_" + base64url(32 random bytes); only their SHA-256 is stored and
// looked up, so no comparison ever runs on the secret itself.
//
// # Layering
//
// Floor 1 (README.md, "Architecture: layers and imports"): it imports the event store,
// audit (same floor) and graph (floor 0, to check endpoints and secret references), and
// must not import operations or any module above it, projections, web or cmd/: the
// others ask tenancy, never the reverse.
package tenancy
