package tenancy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// authzWorld is one workspace with two tenants and members of every kind, plus an
// outsider who owns another workspace.
type authzWorld struct {
	ws, other      tenancy.Workspace
	t1, t2, t3     tenancy.Tenant
	users          map[string]tenancy.User
	unknownTenant  uuid.UUID
	unknownWorkspc uuid.UUID
}

func newAuthzWorld(t *testing.T, b bundle) authzWorld {
	t.Helper()
	w := authzWorld{ws: b.workspace(t), other: b.workspace(t), users: map[string]tenancy.User{},
		unknownTenant: uuid.New(), unknownWorkspc: uuid.New()}
	w.t1, w.t2, w.t3 = b.tenant(t, w.ws), b.tenant(t, w.ws), b.tenant(t, w.other)
	for _, name := range []string{"owner", "manager", "operator", "readonly", "compliance",
		"tenantOnly", "mixedUp", "mixedDown", "outsider", "nobody"} {
		w.users[name] = b.user(t)
	}
	for _, r := range tenancy.Roles() {
		b.grant(t, w.users[string(r)], w.ws, uuid.Nil, r)
	}
	b.grant(t, w.users["tenantOnly"], w.ws, w.t1.ID, tenancy.RoleOperator)
	// Both a workspace-level and a tenant-level role: the tenant-level one wins there.
	b.grant(t, w.users["mixedUp"], w.ws, uuid.Nil, tenancy.RoleReadonly)
	b.grant(t, w.users["mixedUp"], w.ws, w.t1.ID, tenancy.RoleManager)
	b.grant(t, w.users["mixedDown"], w.ws, uuid.Nil, tenancy.RoleOwner)
	b.grant(t, w.users["mixedDown"], w.ws, w.t1.ID, tenancy.RoleReadonly)
	b.grant(t, w.users["outsider"], w.other, uuid.Nil, tenancy.RoleOwner)
	return w
}

func decisionOf(t *testing.T, c byte) tenancy.Decision {
	t.Helper()
	switch c {
	case 'A':
		return tenancy.Allowed
	case 'F':
		return tenancy.Forbidden
	case 'N':
		return tenancy.NotFound
	}
	t.Fatalf("bad decision letter %q", c)
	return 0
}

func TestAuthorizeMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)

	// One letter per capability, in this order: A allowed, F forbidden, N not found.
	caps := []tenancy.Capability{tenancy.CapOperationsView, tenancy.CapInventorySync,
		tenancy.CapRestoreExecute, tenancy.CapAuditView, tenancy.CapMembersManage}
	tenants := map[string]uuid.UUID{"t1": w.t1.ID, "t2": w.t2.ID, "t3": w.t3.ID, "unknown": w.unknownTenant}
	cases := []struct {
		user, tenant, want string
	}{
		{"owner", "t1", "AAAAA"},
		{"owner", "t2", "AAAAA"},
		{"owner", "t3", "NNNNN"},
		{"owner", "unknown", "NNNNN"},
		{"manager", "t1", "AAAAA"},
		{"manager", "t2", "AAAAA"},
		{"operator", "t1", "AAFFF"},
		{"operator", "t2", "AAFFF"},
		{"readonly", "t1", "AFFFF"},
		{"readonly", "t2", "AFFFF"},
		{"compliance", "t1", "AFFAF"},
		{"compliance", "t2", "AFFAF"},
		{"compliance", "unknown", "NNNNN"},
		{"tenantOnly", "t1", "AAFFF"},
		{"tenantOnly", "t2", "NNNNN"},
		{"mixedUp", "t1", "AAAAA"},
		{"mixedUp", "t2", "AFFFF"},
		{"mixedDown", "t1", "AFFFF"},
		{"mixedDown", "t2", "AAAAA"},
		{"outsider", "t1", "NNNNN"},
		{"outsider", "t2", "NNNNN"},
		{"outsider", "t3", "AAAAA"},
		{"outsider", "unknown", "NNNNN"},
		{"nobody", "t1", "NNNNN"},
		{"nobody", "unknown", "NNNNN"},
	}
	for _, tc := range cases {
		tenantID := tenants[tc.tenant]
		for i, c := range caps {
			want := decisionOf(t, tc.want[i])
			tn, got, err := b.svc.Authorize(b.ctx, w.users[tc.user].ID, tenantID, c)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s on %s, %s", tc.user, tc.tenant, c)
			if want == tenancy.NotFound {
				require.Zero(t, tn, "a NotFound reveals no tenant")
			} else {
				require.Equal(t, tenantID, tn.ID)
			}
		}
	}

	// An unknown capability is refused, and never with Allowed.
	_, d, err := b.svc.Authorize(b.ctx, w.users["owner"].ID, w.t1.ID, "operations.delete")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	require.NotEqual(t, tenancy.Allowed, d)
	require.Error(t, d.Err())
}

func TestAuthorizeWorkspaceMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	caps := []tenancy.Capability{tenancy.CapOperationsView, tenancy.CapMembersManage, tenancy.CapWorkspaceManage}
	cases := []struct {
		user      string
		workspace uuid.UUID
		want      string
	}{
		{"owner", w.ws.ID, "AAA"},
		{"manager", w.ws.ID, "AAF"},
		{"operator", w.ws.ID, "AFF"},
		{"readonly", w.ws.ID, "AFF"},
		{"compliance", w.ws.ID, "AFF"},
		{"tenantOnly", w.ws.ID, "FFF"}, // a member, but only of one tenant
		{"mixedUp", w.ws.ID, "AFF"},    // its workspace-level role is readonly
		{"mixedDown", w.ws.ID, "AAA"},
		{"outsider", w.ws.ID, "NNN"},
		{"outsider", w.other.ID, "AAA"},
		{"nobody", w.ws.ID, "NNN"},
		{"owner", w.unknownWorkspc, "NNN"},
	}
	for _, tc := range cases {
		for i, c := range caps {
			got, err := b.svc.AuthorizeWorkspace(b.ctx, w.users[tc.user].ID, tc.workspace, c)
			require.NoError(t, err)
			require.Equal(t, decisionOf(t, tc.want[i]), got, "%s on %s, %s", tc.user, tc.workspace, c)
		}
	}
	_, err := b.svc.AuthorizeWorkspace(b.ctx, w.users["owner"].ID, w.ws.ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
}

func TestRoleFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	cases := []struct {
		user     string
		tenant   uuid.UUID
		want     tenancy.Role
		isMember bool
	}{
		{"owner", w.t1.ID, tenancy.RoleOwner, true},
		{"compliance", w.t2.ID, tenancy.RoleCompliance, true},
		{"tenantOnly", w.t1.ID, tenancy.RoleOperator, true},
		{"tenantOnly", w.t2.ID, "", false},
		{"mixedUp", w.t1.ID, tenancy.RoleManager, true},
		{"mixedUp", w.t2.ID, tenancy.RoleReadonly, true},
		{"mixedDown", w.t1.ID, tenancy.RoleReadonly, true},
		{"outsider", w.t1.ID, "", false},
		{"owner", w.unknownTenant, "", false},
	}
	for _, tc := range cases {
		role, ok, err := b.svc.RoleFor(b.ctx, w.users[tc.user].ID, tc.tenant)
		require.NoError(t, err)
		require.Equal(t, tc.isMember, ok, tc.user)
		require.Equal(t, tc.want, role, tc.user)
	}
}

func TestVisibleTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	both, none := []uuid.UUID{w.t1.ID, w.t2.ID}, []uuid.UUID{}
	cases := []struct {
		user string
		cap  tenancy.Capability
		want []uuid.UUID
	}{
		{"owner", tenancy.CapRestoreExecute, both},
		{"readonly", tenancy.CapOperationsView, both},
		{"readonly", tenancy.CapInventorySync, none},
		{"compliance", tenancy.CapAuditExport, both},
		{"tenantOnly", tenancy.CapOperationsView, []uuid.UUID{w.t1.ID}},
		{"tenantOnly", tenancy.CapRestoreExecute, none},
		{"mixedUp", tenancy.CapOperationsView, both},
		{"mixedUp", tenancy.CapRestoreExecute, []uuid.UUID{w.t1.ID}},
		{"mixedDown", tenancy.CapInventorySync, []uuid.UUID{w.t2.ID}},
		{"outsider", tenancy.CapOperationsView, []uuid.UUID{w.t3.ID}},
		{"nobody", tenancy.CapOperationsView, none},
	}
	for _, tc := range cases {
		got, err := b.svc.VisibleTenants(b.ctx, w.users[tc.user].ID, tc.cap)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Equal(t, tc.want, got, "%s %s", tc.user, tc.cap)
	}
	_, err := b.svc.VisibleTenants(b.ctx, w.users["owner"].ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
}

func TestVisibleWorkspaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	cases := []struct {
		user string
		cap  tenancy.Capability
		want []uuid.UUID
	}{
		{"owner", tenancy.CapOperationsView, []uuid.UUID{w.ws.ID}},
		{"readonly", tenancy.CapInventorySync, []uuid.UUID{}},
		{"tenantOnly", tenancy.CapOperationsView, []uuid.UUID{}}, // a tenant-level member sees no workspace-scoped runs
		{"mixedDown", tenancy.CapRestoreExecute, []uuid.UUID{w.ws.ID}},
		{"outsider", tenancy.CapOperationsView, []uuid.UUID{w.other.ID}},
		{"nobody", tenancy.CapOperationsView, []uuid.UUID{}},
	}
	for _, tc := range cases {
		got, err := b.svc.VisibleWorkspaces(b.ctx, w.users[tc.user].ID, tc.cap)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Equal(t, tc.want, got, "%s %s", tc.user, tc.cap)
	}
	_, err := b.svc.VisibleWorkspaces(b.ctx, w.users["owner"].ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
}

func TestMemberWorkspaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	for user, want := range map[string][]uuid.UUID{
		"owner": {w.ws.ID}, "tenantOnly": {w.ws.ID}, "outsider": {w.other.ID}, "nobody": {},
	} {
		got, err := b.svc.MemberWorkspaces(b.ctx, w.users[user].ID)
		require.NoError(t, err)
		require.Equal(t, want, got, user)
	}
}

func TestDecision(t *testing.T) {
	t.Parallel()
	var zero tenancy.Decision
	require.NotEqual(t, tenancy.Allowed, zero, "the zero Decision never allows")
	require.ErrorIs(t, zero.Err(), tenancy.ErrForbidden)
	require.NoError(t, tenancy.Allowed.Err())
	require.ErrorIs(t, tenancy.NotFound.Err(), tenancy.ErrNotFound)
	require.ErrorIs(t, tenancy.Forbidden.Err(), tenancy.ErrForbidden)
	require.Equal(t, "allowed", tenancy.Allowed.String())
	require.Equal(t, "not_found", tenancy.NotFound.String())
	require.Equal(t, "forbidden", tenancy.Forbidden.String())
	require.Equal(t, "undecided", zero.String())
}

func TestTenantSwitcher(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	for _, tc := range []struct {
		user string
		cap  tenancy.Capability
	}{
		{"owner", tenancy.CapOperationsView}, {"readonly", tenancy.CapInventorySync},
		{"tenantOnly", tenancy.CapOperationsView}, {"mixedUp", tenancy.CapRestoreExecute},
		{"mixedDown", tenancy.CapInventorySync}, {"outsider", tenancy.CapOperationsView}, {"nobody", tenancy.CapOperationsView},
		// Both levels have the capability: the tenant-level role overrides with one that has it too.
		{"mixedUp", tenancy.CapOperationsView}, {"mixedDown", tenancy.CapOperationsView},
	} {
		visible, err := b.svc.VisibleTenants(b.ctx, w.users[tc.user].ID, tc.cap)
		require.NoError(t, err)
		for _, n := range []int{1, 2, 5} {
			for _, include := range []uuid.UUID{uuid.Nil, w.t2.ID, w.t3.ID} {
				// What the switcher answered before it was one statement: the first n
				// visible ids and the included one, by name (TenantsByID).
				want := slices.Clone(visible[:min(n, len(visible))])
				if include != uuid.Nil && !slices.Contains(want, include) {
					want = append(want, include)
				}
				wantTenants, err := b.svc.TenantsByID(b.ctx, want)
				require.NoError(t, err)
				got, total, err := b.svc.TenantSwitcher(b.ctx, w.users[tc.user].ID, tc.cap, n, include)
				require.NoError(t, err)
				require.Equal(t, len(visible), total, "%s %s n=%d include=%s", tc.user, tc.cap, n, include)
				require.Equal(t, wantTenants, got, "%s %s n=%d include=%s", tc.user, tc.cap, n, include)
			}
		}
	}
	_, _, err := b.svc.TenantSwitcher(b.ctx, w.users["owner"].ID, "nope", 1, uuid.Nil)
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	_, _, err = b.svc.TenantSwitcher(b.ctx, w.users["owner"].ID, tenancy.CapOperationsView, 0, uuid.Nil)
	require.ErrorIs(t, err, tenancy.ErrInvalid)
}

func TestAuthorizeRoleIsRoleFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	for name, u := range w.users {
		for _, tenantID := range []uuid.UUID{w.t1.ID, w.t2.ID, w.t3.ID, w.unknownTenant} {
			want, isMember, err := b.svc.RoleFor(b.ctx, u.ID, tenantID)
			require.NoError(t, err)
			_, role, dec, err := b.svc.AuthorizeRole(b.ctx, u.ID, tenantID, tenancy.CapInventorySync)
			require.NoError(t, err)
			require.Equal(t, want, role, name)
			require.Equal(t, isMember, dec != tenancy.NotFound, name)
		}
	}
}

// visibleTo is what VisibleWorkspaces and VisibleTenants answer for userID and c.
func visibleTo(t *testing.T, b bundle, userID uuid.UUID, c tenancy.Capability) (workspaces, tenants []uuid.UUID) {
	t.Helper()
	workspaces, err := b.svc.VisibleWorkspaces(b.ctx, userID, c)
	require.NoError(t, err)
	tenants, err = b.svc.VisibleTenants(b.ctx, userID, c)
	require.NoError(t, err)
	return workspaces, tenants
}

// TestHasCapability: a user has a capability somewhere exactly when VisibleWorkspaces or
// VisibleTenants answers someone, for every user of the world and every capability.
func TestHasCapability(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	some := 0
	for name, u := range w.users {
		for _, c := range tenancy.Capabilities() {
			ws, tn := visibleTo(t, b, u.ID, c)
			has, err := b.svc.HasCapability(b.ctx, u.ID, c)
			require.NoError(t, err)
			require.Equal(t, len(ws) > 0 || len(tn) > 0, has, "%s %s", name, c)
			if has {
				some++
			}
		}
	}
	require.Positive(t, some)
	_, err := b.svc.HasCapability(b.ctx, w.users["owner"].ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
}

// TestWholeWorkspaces: a workspace is whole for a user and a capability exactly when
// VisibleWorkspaces answers it and VisibleTenants answers every one of its tenants, for
// every user of the world and every capability.
func TestWholeWorkspaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	tenantsOf := func(ws uuid.UUID) []uuid.UUID {
		rows, err := b.pool.Query(b.ctx, `SELECT id FROM tn_tenants WHERE workspace_id = $1`, ws)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		require.NoError(t, err)
		return ids
	}
	var whole, partial int
	for name, u := range w.users {
		member, err := b.svc.MemberWorkspaces(b.ctx, u.ID)
		require.NoError(t, err)
		for _, c := range tenancy.Capabilities() {
			got, err := b.svc.WholeWorkspaces(b.ctx, u.ID, c)
			require.NoError(t, err)
			vw, vt := visibleTo(t, b, u.ID, c)
			for _, ws := range member {
				want := slices.Contains(vw, ws)
				for _, tn := range tenantsOf(ws) {
					want = want && slices.Contains(vt, tn)
				}
				require.Equal(t, want, slices.Contains(got, ws), "%s %s workspace %s", name, c, ws)
				if want {
					whole++
				} else {
					partial++
				}
			}
			for _, ws := range got {
				require.Contains(t, member, ws, "%s %s: a whole workspace is a member's", name, c)
			}
		}
	}
	require.Positive(t, whole)
	require.Positive(t, partial)
	_, err := b.svc.WholeWorkspaces(b.ctx, w.users["owner"].ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
}

// TestRequireIsAuthorize: RequireTenant's statement passes exactly when Authorize answers
// Allowed (and only with the tenant's own workspace), RequireWorkspace's exactly when
// AuthorizeWorkspace does, for every user of the world, every capability and every
// tenant and workspace (unknown ones included); a refusal is IsRefused and aborts its
// transaction.
func TestRequireIsAuthorize(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := newAuthzWorld(t, b)
	passes := func(sql string, args []any) bool {
		t.Helper()
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(b.ctx) }()
		_, err = tx.Exec(b.ctx, sql, args...)
		if err != nil {
			require.True(t, tenancy.IsRefused(err), "%v", err)
			_, err = tx.Exec(b.ctx, `SELECT 1`)
			require.Error(t, err, "the refusal aborts the transaction")
			return false
		}
		return true
	}
	tenants := []uuid.UUID{w.t1.ID, w.t2.ID, w.t3.ID, w.unknownTenant}
	workspaces := []uuid.UUID{w.ws.ID, w.other.ID, w.unknownWorkspc}
	allowed, refused := 0, 0
	for name, u := range w.users {
		for _, c := range tenancy.Capabilities() {
			for _, tn := range tenants {
				tenant, dec, err := b.svc.Authorize(b.ctx, u.ID, tn, c)
				require.NoError(t, err)
				for _, ws := range workspaces {
					sql, args, err := tenancy.RequireTenant(u.ID, ws, tn, c)
					require.NoError(t, err)
					want := dec == tenancy.Allowed && tenant.WorkspaceID == ws
					require.Equal(t, want, passes(sql, args), "%s %s tenant %s workspace %s", name, c, tn, ws)
					if want {
						allowed++
					} else {
						refused++
					}
				}
			}
			for _, ws := range workspaces {
				dec, err := b.svc.AuthorizeWorkspace(b.ctx, u.ID, ws, c)
				require.NoError(t, err)
				sql, args, err := tenancy.RequireWorkspace(u.ID, ws, c)
				require.NoError(t, err)
				require.Equal(t, dec == tenancy.Allowed, passes(sql, args), "%s %s workspace %s", name, c, ws)
			}
		}
	}
	require.Positive(t, allowed)
	require.Positive(t, refused)
	_, _, err := tenancy.RequireTenant(w.users["owner"].ID, w.ws.ID, w.t1.ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	_, _, err = tenancy.RequireWorkspace(w.users["owner"].ID, w.ws.ID, "nope")
	require.ErrorIs(t, err, tenancy.ErrInvalid)
	require.False(t, tenancy.IsRefused(errors.New("TA403")))
}
