package backup

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/operations"
)

// TestSealedSetIsImmutable: once sealed, the database refuses every change to a set's
// items (update, delete, insert, truncate) and to the set itself; before sealing the
// run may still add items.
func TestSealedSetIsImmutable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.DB(t)
	s := New(pool, nil, nil)
	run := &operations.Run{ID: uuid.New(), TenantID: uuid.New()}
	setID, err := s.createSet(ctx, run, "", uuid.Nil)
	require.NoError(t, err)
	again, err := s.createSet(ctx, run, "other", uuid.Nil)
	require.NoError(t, err)
	require.Equal(t, setID, again, "a retried run continues its open set")
	payload := map[string]any{"id": "p1", "displayName": "Baseline", "settings": []any{map[string]any{"k": "v"}}}
	require.NoError(t, s.addItem(ctx, setID, PolicyRef{Type: "deviceConfigurations", ID: "p1"}, payload))
	_, err = pool.Exec(ctx, `UPDATE bk_items SET display_name = 'before seal' WHERE set_id = $1`, setID)
	require.NoError(t, err, "an open set's items may still change")
	require.NoError(t, s.seal(ctx, setID))

	st, err := s.SetOfRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, 1, st.ItemCount)
	require.False(t, st.SealedAt.IsZero())
	require.Regexp(t, `^Backup \d{4}-\d\d-\d\d`, st.Name)
	it, err := s.Item(ctx, setID, "deviceConfigurations", "p1")
	require.NoError(t, err)
	require.True(t, it.Verify(), "the payload hashes to its sha256")
	var got map[string]any
	require.NoError(t, json.Unmarshal(it.Payload, &got))
	require.Equal(t, "Baseline", got["displayName"])

	for name, stmt := range map[string]string{
		"update item":    `UPDATE bk_items SET payload = '{"id":"p1","tampered":true}' WHERE set_id = $1`,
		"update hash":    `UPDATE bk_items SET sha256 = repeat('0', 64) WHERE set_id = $1`,
		"delete item":    `DELETE FROM bk_items WHERE set_id = $1`,
		"insert item":    `INSERT INTO bk_items (set_id, policy_type, policy_id, display_name, payload, sha256, captured_at) VALUES ($1, 'compliancePolicies', 'x', 'x', '{}', repeat('a', 64), now())`,
		"unseal set":     `UPDATE bk_sets SET sealed_at = NULL WHERE set_id = $1`,
		"rename set":     `UPDATE bk_sets SET name = 'renamed' WHERE set_id = $1`,
		"delete set":     `DELETE FROM bk_sets WHERE set_id = $1`,
		"truncate items": `TRUNCATE bk_items`,
	} {
		args := []any{setID}
		if name == "truncate items" {
			args = nil
		}
		_, err := pool.Exec(ctx, stmt, args...)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, name)
		require.Equal(t, "23000", pgErr.Code, "%s: %v", name, err)
	}
	after, err := s.Item(ctx, setID, "deviceConfigurations", "p1")
	require.NoError(t, err)
	require.Equal(t, it, after, "nothing changed")
	require.ErrorContains(t, s.addItem(ctx, setID, PolicyRef{Type: "deviceConfigurations", ID: "p2"}, payload), "is sealed", "no new items either")
}

func TestParseContext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ctx, err string
	}{
		{"ok", `{"policies":[{"type":"deviceConfigurations","id":"a"},{"type":"settingsCatalogPolicies","id":"a"}],"name":"Weekly"}`, ""},
		{"no policies", `{}`, "at least one policy"},
		{"empty list", `{"policies":[]}`, "at least one policy"},
		{"unknown type", `{"policies":[{"type":"groups","id":"a"}]}`, `type "groups"`},
		{"no id", `{"policies":[{"type":"compliancePolicies"}]}`, "id must be"},
		{"path in id", `{"policies":[{"type":"compliancePolicies","id":"../groups"}]}`, "id must be"},
		{"duplicate", `{"policies":[{"type":"compliancePolicies","id":"a"},{"type":"compliancePolicies","id":"a"}]}`, "named twice"},
		{"unknown field", `{"policies":[{"type":"compliancePolicies","id":"a"}],"payload":{}}`, "unknown field"},
		{"not a list", `{"policies":{"type":"compliancePolicies","id":"a"}}`, "cannot unmarshal"},
	} {
		_, err := ParseContext(json.RawMessage(tc.ctx))
		if tc.err == "" {
			require.NoError(t, err, tc.name)
			continue
		}
		require.ErrorContains(t, err, tc.err, tc.name)
	}
}
