package tenancy_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// auditOf returns the audit entries of action on target, oldest first.
func (b bundle) auditOf(t *testing.T, action, target string) []audit.AuditRecorded {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `SELECT data FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 AND data->>'target' = $2 ORDER BY (data->>'entryId')::uuid`, action, target)
	require.NoError(t, err)
	defer rows.Close()
	var out []audit.AuditRecorded
	for rows.Next() {
		var e audit.AuditRecorded
		require.NoError(t, rows.Scan(&e))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

var testOrigin = tenancy.Origin{IP: "192.0.2.44", UserAgent: "audit-test/1.0"}

// TestTokenCreateAndRevokeAreAudited: issuing, importing and revoking an API token are
// audit entries with the actor, the origin of the request, the token as target and its
// state after (and before, for a revocation) — never the token itself; revoking again
// records nothing.
func TestTokenCreateAndRevokeAreAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.user(t)
	ctx := tenancy.WithOrigin(b.ctx, testOrigin)
	const actor = "system:audit-test"

	plain, id, err := b.svc.IssueToken(ctx, actor, u.ID, "laptop")
	require.NoError(t, err)
	created := b.auditOf(t, tenancy.ActionTokenCreate, "token:"+id.String())
	require.Len(t, created, 1)
	c := created[0]
	require.Equal(t, []string{actor, "succeeded", testOrigin.IP, testOrigin.UserAgent}, []string{c.Actor, c.Outcome, c.IP, c.UserAgent})
	require.Empty(t, c.Before)
	require.JSONEq(t, `{"userId":"`+u.ID.String()+`","name":"laptop","revoked":false}`, string(c.After))
	require.NotContains(t, string(c.After), plain)

	imported := tenancy.TokenPrefix + strings.Repeat("i", 40)
	importedID, err := b.svc.ImportToken(b.ctx, actor, u.ID, "seed", imported) // no origin: the CLI
	require.NoError(t, err)
	im := b.auditOf(t, tenancy.ActionTokenCreate, "token:"+importedID.String())
	require.Len(t, im, 1)
	require.Equal(t, []string{actor, "", ""}, []string{im[0].Actor, im[0].IP, im[0].UserAgent})
	require.JSONEq(t, `{"userId":"`+u.ID.String()+`","name":"seed","imported":true,"revoked":false}`, string(im[0].After))

	require.NoError(t, b.svc.RevokeToken(ctx, actor, id))
	require.NoError(t, b.svc.RevokeToken(ctx, actor, id))
	revoked := b.auditOf(t, tenancy.ActionTokenRevoke, "token:"+id.String())
	require.Len(t, revoked, 1, "revoking again changes and records nothing")
	r := revoked[0]
	require.Equal(t, []string{actor, "succeeded", testOrigin.IP, testOrigin.UserAgent}, []string{r.Actor, r.Outcome, r.IP, r.UserAgent})
	require.JSONEq(t, `{"userId":"`+u.ID.String()+`","revoked":false}`, string(r.Before))
	require.JSONEq(t, `{"userId":"`+u.ID.String()+`","revoked":true}`, string(r.After))
}

// TestUserDisableIsAudited: disabling a user is a user.disable entry with the actor, the
// origin, the user as target and the flag and session version before and after.
func TestUserDisableIsAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.user(t)
	ctx := tenancy.WithOrigin(b.ctx, testOrigin)
	_, err := b.svc.DisableUser(ctx, "system:audit-test", u.Email)
	require.NoError(t, err)
	_, err = b.svc.DisableUser(ctx, "system:audit-test", u.Email)
	require.NoError(t, err)
	got := b.auditOf(t, tenancy.ActionUserDisable, tenancy.UserActor(u.ID))
	require.Len(t, got, 1, "disabling again records nothing")
	e := got[0]
	require.Equal(t, []string{"system:audit-test", "succeeded", testOrigin.IP, testOrigin.UserAgent}, []string{e.Actor, e.Outcome, e.IP, e.UserAgent})
	require.JSONEq(t, `{"disabled":false,"sessionVersion":1}`, string(e.Before))
	require.JSONEq(t, `{"disabled":true,"sessionVersion":2}`, string(e.After))
}

// TestDeniedViewAudit: a refused view is an access.view entry with the outcome, the
// user, the origin and the id as requested — a UUID in its canonical form, anything else
// cut to 64 characters of [0-9A-Za-z-].
func TestDeniedViewAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.user(t)
	tenant := uuid.New()
	ok, err := b.svc.RecordDeniedView(b.ctx, tenancy.DeniedView{UserID: u.ID, Kind: "tenant", Requested: strings.ToUpper(tenant.String()),
		Forbidden: true, Route: "/admin/t/:tenant/operations", From: testOrigin})
	require.NoError(t, err)
	require.True(t, ok)
	e := b.auditOf(t, tenancy.ActionViewDenied, "tenant:"+tenant.String())
	require.Len(t, e, 1)
	require.Equal(t, audit.AuditRecorded{EntryID: e[0].EntryID, Action: tenancy.ActionViewDenied, Outcome: tenancy.DeniedForbidden,
		Actor: tenancy.UserActor(u.ID), TenantID: tenant, Target: "tenant:" + tenant.String(), Reason: "/admin/t/:tenant/operations",
		IP: testOrigin.IP, UserAgent: testOrigin.UserAgent}, e[0])

	hostile := "../../etc/passwd'; DROP TABLE x;--\x00\u202e" + strings.Repeat("A", 5000)
	_, err = b.svc.RecordDeniedView(b.ctx, tenancy.DeniedView{UserID: u.ID, Kind: "run", Requested: hostile, Route: "/api/v1/operations/:run",
		From: tenancy.Origin{IP: "192.0.2.45", UserAgent: strings.Repeat("u", 4000)}})
	require.NoError(t, err)
	var target, ua string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT data->>'target', data->>'userAgent' FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 AND actor = $2 AND data->>'outcome' = $3`, tenancy.ActionViewDenied, tenancy.UserActor(u.ID),
		tenancy.DeniedNotFound).Scan(&target, &ua))
	// "../../" "/" "'; " " " ";" NUL and the 3 bytes of U+202E each become '_'; 64 kept.
	require.Equal(t, "run:______etc_passwd___DROP_TABLE_x_--____"+strings.Repeat("A", 26), target)
	require.Len(t, target, len("run:")+64)
	require.Len(t, ua, 512)
}

// suppressedTotal reads atlas_audit_suppressed_total{action}.
func suppressedTotal(t *testing.T, action string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(audit.Suppressed()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == action {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestDeniedViewAuditIsCapped: under a flood of refusals one user gets audit.DeniedLimit
// entries a minute per kind (tenant, run); the rest are only counted in
// atlas_audit_suppressed_total, and another user is not held back by the flood.
func TestDeniedViewAuditIsCapped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flooder, other := b.user(t), b.user(t)
	before := suppressedTotal(t, tenancy.ActionViewDenied)
	deny := func(u tenancy.User, kind string) bool {
		ok, err := b.svc.RecordDeniedView(b.ctx, tenancy.DeniedView{UserID: u.ID, Kind: kind, Requested: uuid.NewString(), From: testOrigin})
		require.NoError(t, err)
		return ok
	}
	recorded := 0
	for range 5 * audit.DeniedLimit {
		if deny(flooder, "run") {
			recorded++
		}
	}
	require.Equal(t, audit.DeniedLimit, recorded)
	require.True(t, deny(flooder, "tenant"), "the cap is per kind")
	require.True(t, deny(other, "run"), "and per user")
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM es_events WHERE event_type = 'AuditRecorded'
		AND data->>'action' = $1 AND actor = $2`, tenancy.ActionViewDenied, tenancy.UserActor(flooder.ID)).Scan(&n))
	require.Equal(t, audit.DeniedLimit+1, n)
	require.GreaterOrEqual(t, suppressedTotal(t, tenancy.ActionViewDenied)-before, float64(4*audit.DeniedLimit))
}
