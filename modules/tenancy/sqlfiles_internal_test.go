package tenancy

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore/sqlfile"
)

// TestSQLFilesUsed checks that every statement of the .sql files is taken by the Go
// code and every name the code takes exists (a missing one also panics at load).
func TestSQLFilesUsed(t *testing.T) {
	t.Parallel()
	require.NoError(t, sqlfile.CheckUsage(sqlQueries, os.DirFS("."), "sqlQueries"))
}

// TestSQLScannedColumns checks that the statements read by a shared scan function select
// its columns in its order.
func TestSQLScannedColumns(t *testing.T) {
	t.Parallel()
	const (
		userColumns       = "id, email, display_name, created_at, session_version, disabled_at IS NOT NULL"
		tokenUserColumns  = "u.id, u.email, u.display_name, u.created_at, u.session_version, false"
		tenantColumns     = "t.id, t.workspace_id, t.name, t.external_tenant_id, t.created_at"
		platformColumns   = "id, email, name, capabilities, break_glass, created_at, session_version, disabled_at IS NOT NULL"
		connectionColumns = "id, tenant_id, provider, display_name, is_default, status, entra_tenant_id, client_id, secret_ref, graph_base_url, status_reason, updated_at"
	)
	for name, cols := range map[string]string{
		"UserByID": userColumns, "UserByEmail": userColumns, "UserPasswordByEmail": userColumns + ", password_hash",
		"AuthenticateToken": tokenUserColumns,
		"AuthorizeTenant":   tenantColumns + ", (SELECT m.role", "TenantByID": tenantColumns, "TenantsOfWorkspace": tenantColumns, "TenantsByID": tenantColumns,
		"PlatformUserByID": platformColumns, "PlatformUserByEmail": platformColumns, "PlatformUserPasswordByEmail": platformColumns + ", password_hash",
		"DefaultConnection": connectionColumns, "ConnectionByID": connectionColumns, "ConnectionsOfTenant": connectionColumns,
	} {
		flat := strings.Join(strings.Fields(sqlQueries.Get(name)), " ")
		require.Contains(t, flat, "SELECT "+cols+" FROM", name)
	}
}
