// Package monotest runs the monolith's Graph-backed run types in tests: the Graph
// simulator (graphsim), the msgraph client pointed at it, the wired app with its
// workers, and a tenant whose default provider connection is the simulator. Only tests
// import it.
//
// Layering (README.md, "Architecture: layers and imports"): floor 5, with the monolith:
// it imports the monolith, graph, graphsim, msgraph, operations and tenancy, and must
// not import web or cmd/.
package monotest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/graph/msgraph"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// SecretRef is the provider connection's secret reference; the test client resolves it
// to the simulator's client secret.
const SecretRef = "env:ATLAS_GRAPH_SECRET_TEST"

// Buffer is a bytes.Buffer safe for writers on other goroutines while the test reads:
// the app's JSON log lines, a command's output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Env is one wired app working runs against one simulator.
type Env struct {
	Ctx         context.Context
	Pool        *pgxpool.Pool
	App         *monolith.App
	Sim         *graphsim.Server
	Graph       graph.Client
	Logs        *Buffer // the app's logs (debug and up)
	Workspace   uuid.UUID
	Tenant      uuid.UUID
	Conn        uuid.UUID
	EntraTenant string // the simulator's tenant id of Tenant
	Operator    tenancy.User
}

// Options tune New.
type Options struct {
	// Sim configures the simulator.
	Sim graphsim.Config
	// Retry is the client's retry policy (zero: fast retries for tests).
	Retry graph.RetryPolicy
	// NoWorkers leaves the workers off (benchmarks execute runs themselves).
	NoWorkers bool
}

// New migrates nothing (pool must hold every monolith migration), starts a simulator,
// wires the app with an msgraph client pointed at it, adds a workspace, a tenant with a
// connection to the simulator and an operator, and runs the workers until the test ends.
func New(t testing.TB, pool *pgxpool.Pool, opts Options) *Env {
	t.Helper()
	ctx := t.Context()
	sim := graphsim.Start(opts.Sim)
	t.Cleanup(sim.Close)
	secret := sim.Config().ClientSecret
	retry := opts.Retry
	if retry.MaxAttempts == 0 {
		retry = graph.RetryPolicy{MaxAttempts: 10, MaxElapsed: 20 * time.Second, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}
	}
	logs := &Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client := msgraph.New(msgraph.Options{Retry: retry, Logger: log, Timeout: 30 * time.Second,
		Getenv: func(name string) string {
			if name == strings.TrimPrefix(SecretRef, "env:") {
				return secret
			}
			return ""
		}})
	app := monolith.New(pool, monolith.Options{Logger: log, BcryptCost: bcrypt.MinCost, Graph: client,
		Operations: operations.Options{HeartbeatInterval: 200 * time.Millisecond}})
	e := &Env{Ctx: ctx, Pool: pool, App: app, Sim: sim, Graph: client, Logs: logs}

	ten := app.Tenancy
	ws, err := ten.CreateWorkspace(ctx, "system:test", "ws-"+uuid.NewString()[:8])
	require.NoError(t, err)
	e.Workspace = ws.ID
	e.EntraTenant = uuid.NewString()
	tn, err := ten.AddTenant(ctx, "system:test", ws.ID, "Contoso", e.EntraTenant)
	require.NoError(t, err)
	e.Tenant = tn.ID
	pc, err := ten.AddProviderConnection(ctx, "system:test", tenancy.ProviderConnection{TenantID: tn.ID, DisplayName: "Graph simulator",
		EntraTenantID: e.EntraTenant, ClientID: "atlas-test", SecretRef: SecretRef, GraphBaseURL: sim.URL})
	require.NoError(t, err)
	e.Conn = pc.ID
	e.Operator, err = ten.RegisterUser(ctx, "system:test", "operator-"+uuid.NewString()[:8]+"@example.test", "Operator", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: e.Operator.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOperator}))

	if !opts.NoWorkers {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := app.Operations.RunWorkers(wctx, operations.WorkerOptions{WorkerID: "test-worker", Concurrency: 2, PollInterval: 10 * time.Millisecond}); err != nil {
				t.Errorf("workers: %v", err)
			}
		})
		t.Cleanup(func() { cancel(); wg.Wait() })
	}
	return e
}

// Start asks the start gate, as the operator, for a run of typ with the context ctxJSON.
func (e *Env) Start(t testing.TB, typ, ctxJSON string) operations.StartOutcome {
	t.Helper()
	out, err := e.App.Operations.Start(e.Ctx, operations.StartRequest{Type: typ, TenantID: e.Tenant, Context: []byte(ctxJSON),
		Initiator: operations.Initiator{Kind: "user", UserID: e.Operator.ID, Name: e.Operator.Email}, SourceSurface: "test"})
	require.NoError(t, err)
	return out
}

// Wait waits until the run has ended and returns it.
func (e *Env) Wait(t testing.TB, id uuid.UUID) *operations.Run {
	t.Helper()
	var run *operations.Run
	require.Eventually(t, func() bool {
		var err error
		run, err = e.App.Operations.Load(e.Ctx, id)
		require.NoError(t, err)
		return run.Terminal()
	}, 60*time.Second, 10*time.Millisecond, "run %s never ended", id)
	return run
}

// Run starts a run of typ (it must be accepted) and waits for its end.
func (e *Env) Run(t testing.TB, typ, ctxJSON string) *operations.Run {
	t.Helper()
	out := e.Start(t, typ, ctxJSON)
	require.Equal(t, operations.StartAccepted, out.Status, "%s: %s", typ, out.OperatorMessage)
	return e.Wait(t, out.Run.ID)
}

// EventTypes lists the types of a run's events.
func (e *Env) EventTypes(t testing.TB, id uuid.UUID) []string {
	t.Helper()
	envs, err := e.App.Operations.Events(e.Ctx, id)
	require.NoError(t, err)
	out := make([]string, len(envs))
	for i, env := range envs {
		out[i] = env.Type
	}
	return out
}

// Link returns the run's one link of kind (failing the test when there is not exactly one).
func Link(t testing.TB, run *operations.Run, kind operations.LinkKind) uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for _, l := range run.Links {
		if l.Kind == kind {
			ids = append(ids, l.ID)
		}
	}
	require.Len(t, ids, 1, "links of kind %s", kind)
	return ids[0]
}
