package operations_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/audit"
	"github.com/tenantatlas/ops/modules/notify"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
	"github.com/tenantatlas/ops/projections"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
		return pgmigrate.Apply(ctx, pool, eventstore.Migrations(), tenancy.Migrations(), operations.Migrations(), notify.Migrations(),
			projections.Migrations())
	})
	pgtest.Main(m)
}

func registry() *eventstore.Registry {
	r := eventstore.NewRegistry()
	tenancy.RegisterEvents(r)
	operations.RegisterEvents(r)
	notify.RegisterEvents(r)
	audit.RegisterEvents(r)
	return r
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is one workspace with two tenants (the first with a working provider
// connection), a user per role, and an outsider in another workspace.
type fixture struct {
	ctx       context.Context
	pool      *pgxpool.Pool
	store     *eventstore.Store
	ten       *tenancy.Service
	runs      *projections.RunReader // the notifications inbox
	ops       *operations.Service
	clock     *clock
	workspace uuid.UUID
	tenant    uuid.UUID // has a default connection with status ok
	bare      uuid.UUID // has no connection
	conn      uuid.UUID
	users     map[string]tenancy.User // owner, manager, operator, readonly, compliance, outsider
}

// poolOf opens a pool of at most maxConns connections on url, closed when the test ends.
func poolOf(t *testing.T, url string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

type fixtureOpt func(*operations.Options)

func newFixture(t testing.TB, pool *pgxpool.Pool, opts ...fixtureOpt) *fixture {
	t.Helper()
	ctx := t.Context()
	store := eventstore.New(pool, eventstore.Options{Registry: registry()})
	ten := tenancy.New(pool, store, tenancy.Options{BcryptCost: bcrypt.MinCost})
	clk := &clock{t: time.Now().UTC()}
	o := operations.Options{Now: clk.Now, FlushInterval: time.Hour, FlushEvery: 1000}
	for _, f := range opts {
		f(&o)
	}
	ops := operations.New(pool, store, ten, audit.NewRecorder(store), o)
	// The fixture's gate admits every type, as if the deployment's workers ran them all
	// (tests that work runs register their handlers; TestStartRefusesUnrunnableType
	// wires a service that declares nothing).
	for _, ti := range operations.Types() {
		ops.DeclareRunnable(ti.Type)
	}
	f := &fixture{ctx: ctx, pool: pool, store: store, ten: ten, runs: projections.NewRunReader(pool), ops: ops, clock: clk, users: map[string]tenancy.User{}}

	ws, err := ten.CreateWorkspace(ctx, "system:test", "ws-"+uuid.NewString()[:8])
	require.NoError(t, err)
	other, err := ten.CreateWorkspace(ctx, "system:test", "other-"+uuid.NewString()[:8])
	require.NoError(t, err)
	f.workspace = ws.ID
	tn, err := ten.AddTenant(ctx, "system:test", ws.ID, "Tenant A", "a-"+uuid.NewString()[:8]+".onmicrosoft.com")
	require.NoError(t, err)
	bare, err := ten.AddTenant(ctx, "system:test", ws.ID, "Tenant B", "b-"+uuid.NewString()[:8]+".onmicrosoft.com")
	require.NoError(t, err)
	f.tenant, f.bare = tn.ID, bare.ID
	pc, err := ten.AddProviderConnection(ctx, "system:test", tenancy.ProviderConnection{TenantID: tn.ID, Provider: "microsoft",
		DisplayName: "Graph", Status: tenancy.ConnectionOK, EntraTenantID: "a.onmicrosoft.com", ClientID: "client", SecretRef: "env:ATLAS_GRAPH_SECRET_X"})
	require.NoError(t, err)
	f.conn = pc.ID
	for _, role := range []string{"owner", "manager", "operator", "readonly", "compliance", "outsider"} {
		u, err := ten.RegisterUser(ctx, "system:test", role+"-"+uuid.NewString()[:8]+"@example.test", role, "correct horse battery staple")
		require.NoError(t, err)
		m := tenancy.Membership{UserID: u.ID, WorkspaceID: ws.ID, Role: tenancy.Role(role)}
		if role == "outsider" {
			m = tenancy.Membership{UserID: u.ID, WorkspaceID: other.ID, Role: tenancy.RoleOwner}
		}
		require.NoError(t, ten.GrantMembership(ctx, "system:test", m))
		f.users[role] = u
	}
	return f
}

func (f *fixture) initiator(role string) operations.Initiator {
	u := f.users[role]
	return operations.Initiator{Kind: "user", UserID: u.ID, Name: u.Email, IP: "127.0.0.1", UserAgent: "test"}
}

func (f *fixture) start(t testing.TB, role, typ string, tenant uuid.UUID, ctxJSON string) operations.StartOutcome {
	t.Helper()
	out, err := f.ops.Start(f.ctx, operations.StartRequest{Type: typ, TenantID: tenant, Context: []byte(ctxJSON),
		Initiator: f.initiator(role), SourceSurface: "test"})
	require.NoError(t, err)
	return out
}

// eventTypes lists the types of a run's events.
func (f *fixture) eventTypes(t testing.TB, run uuid.UUID) []string {
	t.Helper()
	envs, err := f.ops.Events(f.ctx, run)
	require.NoError(t, err)
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Type
	}
	return out
}

// dispatched counts dispatch messages for a run.
func (f *fixture) dispatched(t testing.TB, run uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM watermill_ops_dispatch WHERE uuid = $1`, run.String()).Scan(&n))
	return n
}

// runInbox keeps the notification inbox of f's database up to date until the test ends
// (the projections.Notifications read model, advanced by a runner of its own).
func runInbox(t *testing.T, f *fixture) {
	t.Helper()
	ctx, cancel := context.WithCancel(f.ctx)
	runner := projections.NewRunner(f.pool, f.store, projections.Options{PollInterval: 10 * time.Millisecond})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := runner.Run(ctx, projections.Notifications{}); err != nil {
			t.Errorf("inbox: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitNotes waits until user has n notifications and returns them, newest first.
func waitNotes(t *testing.T, f *fixture, user uuid.UUID, n int) []projections.Notification {
	t.Helper()
	var notes []projections.Notification
	require.Eventually(t, func() bool {
		var err error
		notes, err = f.runs.Notifications(f.ctx, user, 50)
		require.NoError(t, err)
		return len(notes) >= n
	}, 30*time.Second, 10*time.Millisecond, "user has %d of %d notifications", len(notes), n)
	require.Len(t, notes, n)
	return notes
}
