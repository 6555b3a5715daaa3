package operations_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestContextSchemaCheck runs the field kinds of a context schema over good and bad
// values; every violation names its field.
func TestContextSchemaCheck(t *testing.T) {
	t.Parallel()
	sc := operations.ContextSchema{
		{Name: "s", Kind: operations.KindString}, {Name: "b", Kind: operations.KindBool},
		{Name: "n", Kind: operations.KindInt}, {Name: "list", Kind: operations.KindStrings},
		{Name: "id", Kind: operations.KindUUID}, {Name: "req", Kind: operations.KindString, Required: true},
		{Name: "objs", Kind: operations.KindObjects, Fields: []operations.Field{{Name: "k", Kind: operations.KindString, Required: true}}},
	}
	require.NoError(t, sc.Check(json.RawMessage(`{"req":"x"}`)))
	require.NoError(t, sc.Check(json.RawMessage(`{"b":false,"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","list":["a"],"n":-3,"objs":[{"k":"v"}],"req":"","s":"x"}`)))
	for _, tt := range []struct{ in, want string }{
		{`{}`, "context.req: required field missing"},
		{`{"req":"x","foo":1}`, "context.foo: unknown field"},
		{`{"req":null}`, "context.req: must be a string"},
		{`{"req":1}`, "context.req: must be a string"},
		{`{"req":"x","b":"true"}`, "context.b: must be true or false"},
		{`{"req":"x","n":1.5}`, "context.n: must be an integer"},
		{`{"req":"x","n":1e3}`, "context.n: must be an integer"},
		{`{"req":"x","n":"1"}`, "context.n: must be an integer"},
		{`{"req":"x","n":99999999999999999999}`, "context.n: must be an integer"},
		{`{"req":"x","list":"a"}`, "context.list: must be an array of strings"},
		{`{"req":"x","list":["a",1]}`, "context.list: must be an array of strings"},
		{`{"req":"x","id":"7C9E6679-7425-40DE-944B-E07FC1F90AE7"}`, "context.id: must be a UUID"},
		{`{"req":"x","id":"urn:uuid:7c9e6679-7425-40de-944b-e07fc1f90ae7"}`, "context.id: must be a UUID"},
		{`{"req":"x","objs":{"k":"v"}}`, "context.objs: must be an array of objects"},
		{`{"req":"x","objs":["v"]}`, "context.objs[0]: must be an object"},
		{`{"req":"x","objs":[{"k":"v"},{}]}`, "context.objs[1].k: required field missing"},
		{`{"req":"x","objs":[{"k":"v","z":true}]}`, "context.objs[0].z: unknown field"},
		{`{"req":"x","a b\"":1}`, `context["a b\""]: unknown field`},
	} {
		err := sc.Check(json.RawMessage(tt.in))
		require.ErrorIs(t, err, operations.ErrContextField, tt.in)
		require.ErrorContains(t, err, tt.want, tt.in)
	}
	err := sc.Check(json.RawMessage(`{"b":1,"zz":1}`))
	require.EqualError(t, err, "context.b: must be true or false\ncontext.zz: unknown field\ncontext.req: required field missing", "every violation, in key order")
	require.NoError(t, operations.ContextSchema(nil).Check(json.RawMessage(`{}`)), "no fields: {} only")
	require.ErrorContains(t, operations.ContextSchema(nil).Check(json.RawMessage(`{"a":1}`)), "context.a: unknown field")
}

// TestStartContextIsStrict: every type refuses an undeclared key and a wrongly typed
// value with ErrInvalidContext naming the field, before anything is recorded, so a
// junk key can no longer make a second run of the same start.
func TestStartContextIsStrict(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.Fresh(t))
	for _, info := range operations.Types() { // every type can run here: only the context decides
		f.ops.Handle(info.Type, func(context.Context, *operations.Run, *operations.Reporter) (operations.Outcome, error) {
			return operations.OutcomeSucceeded, nil
		})
	}
	start := func(typ, ctx string) (operations.StartOutcome, error) {
		req := operations.StartRequest{Type: typ, TenantID: f.tenant, Context: []byte(ctx), Initiator: f.initiator("owner")}
		if info, _ := operations.LookupType(typ); info.WorkspaceScoped {
			req.TenantID, req.WorkspaceID = [16]byte{}, f.workspace
		}
		return f.ops.Start(f.ctx, req)
	}
	for _, info := range operations.Types() {
		_, err := start(info.Type, `{"junk":1}`)
		require.ErrorIs(t, err, operations.ErrInvalidContext, info.Type)
		require.ErrorContains(t, err, "context.junk: unknown field", info.Type)
	}
	for _, tt := range []struct{ typ, ctx, want string }{
		{"inventory.sync", `{"policyTypes":"deviceConfigurations"}`, "context.policyTypes: must be an array of strings"},
		{"drift.generate", `{"baseline":7}`, "context.baseline: must be a string"},
		{"backup_set.add_policies", `{}`, "context.policies: required field missing"},
		{"backup_set.add_policies", `{"policies":[{"type":"groups","id":"x","etag":"1"}]}`, "context.policies[0].etag: unknown field"},
		{"backup_schedule.run_now", `{"scheduleId":"s1"}`, "context.scheduleId: must be a UUID"},
		{"findings.lifecycle.backfill", `{"targetTenantId":42}`, "context.targetTenantId: must be a UUID"},
		{"provider.verify", `{"force":true}`, "context.force: unknown field"},
	} {
		_, err := start(tt.typ, tt.ctx)
		require.ErrorIs(t, err, operations.ErrInvalidContext, tt.ctx)
		require.ErrorContains(t, err, tt.want, tt.ctx)
	}
	var runs int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE workspace_id = $1`, f.workspace).Scan(&runs))
	require.Zero(t, runs, "refused starts record nothing")

	first, err := start("drift.generate", `{}`)
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, first.Status)
	_, err = start("drift.generate", `{"nonce":"dodge"}`)
	require.ErrorIs(t, err, operations.ErrInvalidContext, "a junk key is refused, not a second run")
	again, err := start("drift.generate", ` { } `)
	require.NoError(t, err)
	require.Equal(t, operations.StartDeduped, again.Status)
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM ops_runs WHERE workspace_id = $1`, f.workspace).Scan(&runs))
	require.Equal(t, 1, runs)

	// Declared fields are accepted.
	out, err := start("findings.lifecycle.backfill", `{"scope":"single_tenant","targetTenantId":"`+f.tenant.String()+`","reasonCode":"DATA_REPAIR","reasonText":"ticket 42"}`)
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
}
