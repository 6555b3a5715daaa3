package tenancy_test

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/tenancy"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
		return pgmigrate.Apply(ctx, pool, eventstore.Migrations(), tenancy.Migrations())
	})
	pgtest.Main(m)
}

// sys is the actor of the test's own changes.
const sys = "system:test"

// bundle is what a test needs: the package database (shared by parallel tests, which
// therefore use names of their own and never count rows globally), a store and the service.
type bundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *eventstore.Store
	svc   *tenancy.Service
}

func setup(t *testing.T) bundle {
	t.Helper()
	return newBundle(t, pgtest.DB(t))
}

// setupFresh is setup on a database of the test's own, for tests that count every event.
func setupFresh(t *testing.T) bundle {
	t.Helper()
	return newBundle(t, pgtest.Fresh(t))
}

func newBundle(t *testing.T, pool *pgxpool.Pool) bundle {
	t.Helper()
	reg := eventstore.NewRegistry()
	tenancy.RegisterEvents(reg)
	audit.RegisterEvents(reg)
	store := eventstore.New(pool, eventstore.Options{Registry: reg})
	return bundle{
		ctx:   t.Context(),
		pool:  pool,
		store: store,
		svc:   tenancy.New(pool, store, tenancy.Options{BcryptCost: bcrypt.MinCost}),
	}
}

// uniq returns prefix with a random suffix, so parallel tests never collide on names.
func uniq(prefix string) string { return prefix + "-" + uuid.NewString() }

const testPassword = "correct horse battery"

func (b bundle) workspace(t *testing.T) tenancy.Workspace {
	t.Helper()
	ws, err := b.svc.CreateWorkspace(b.ctx, sys, uniq("ws"))
	require.NoError(t, err)
	return ws
}

func (b bundle) tenant(t *testing.T, ws tenancy.Workspace) tenancy.Tenant {
	t.Helper()
	tn, err := b.svc.AddTenant(b.ctx, sys, ws.ID, uniq("tenant"), uniq("contoso")+".onmicrosoft.com")
	require.NoError(t, err)
	return tn
}

func (b bundle) user(t *testing.T) tenancy.User {
	t.Helper()
	u, err := b.svc.RegisterUser(b.ctx, sys, uniq("user")+"@example.com", "Test User", testPassword)
	require.NoError(t, err)
	return u
}

func (b bundle) grant(t *testing.T, u tenancy.User, ws tenancy.Workspace, tenantID uuid.UUID, role tenancy.Role) {
	t.Helper()
	require.NoError(t, b.svc.GrantMembership(b.ctx, sys, tenancy.Membership{
		UserID: u.ID, WorkspaceID: ws.ID, TenantID: tenantID, Role: role}))
}

// events returns the events of the stream of the given type and id.
func (b bundle) events(t *testing.T, streamType string, id uuid.UUID) []eventstore.Envelope {
	t.Helper()
	envs, err := b.store.ReadStream(b.ctx, eventstore.NewStreamID(streamType, id), 0)
	require.NoError(t, err)
	return envs
}

// eventTypes returns the event types of a stream, in order.
func (b bundle) eventTypes(t *testing.T, streamType string, id uuid.UUID) []string {
	t.Helper()
	var out []string
	for _, e := range b.events(t, streamType, id) {
		out = append(out, e.Type)
	}
	return out
}

// requireNowhere asserts that s appears in no tn_ table row (as text, or as the hex of
// its bytes, which is how a bytea column renders) and no event payload (appends write no
// outbox message since eventstore migration 004).
func (b bundle) requireNowhere(t *testing.T, s string) {
	t.Helper()
	require.NotEmpty(t, s)
	hexOf := hex.EncodeToString([]byte(s))
	var tables []string
	rows, err := b.pool.Query(b.ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name LIKE 'tn\_%' ORDER BY table_name`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.Len(t, tables, 8, "every tn_ table is checked")
	for _, table := range tables {
		var n int
		require.NoError(t, b.pool.QueryRow(b.ctx,
			`SELECT count(*) FROM `+table+` r WHERE strpos(r::text, $1) > 0 OR strpos(r::text, $2) > 0`, s, hexOf).Scan(&n))
		require.Zero(t, n, "%q found in %s", s, table)
	}
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx,
		`SELECT count(*) FROM es_events WHERE strpos(data::text, $1) > 0 OR strpos(actor, $1) > 0`, s).Scan(&n))
	require.Zero(t, n, "%q found in es_events", s)
}
