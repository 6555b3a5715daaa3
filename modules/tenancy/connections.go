package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/graph"
)

// The statements of connections.sql.
var (
	sqlLockTenantForConnection      = sqlQueries.Get("LockTenantForConnection")
	sqlTenantHasNoDefaultConnection = sqlQueries.Get("TenantHasNoDefaultConnection")
	sqlInsertConnection             = sqlQueries.Get("InsertConnection")
	sqlLockConnectionStatus         = sqlQueries.Get("LockConnectionStatus")
	sqlUpdateConnectionStatus       = sqlQueries.Get("UpdateConnectionStatus")
	sqlLockConnectionEndpoint       = sqlQueries.Get("LockConnectionEndpoint")
	sqlUpdateConnectionEndpoint     = sqlQueries.Get("UpdateConnectionEndpoint")
	sqlDefaultConnection            = sqlQueries.Get("DefaultConnection")
	sqlConnectionByID               = sqlQueries.Get("ConnectionByID")
	sqlConnectionsOfTenant          = sqlQueries.Get("ConnectionsOfTenant")
)

// ConnectionStatus is whether a provider connection can be used right now.
type ConnectionStatus string

// The connection statuses.
const (
	// ConnectionOK means the connection works.
	ConnectionOK ConnectionStatus = "ok"
	// ConnectionConsentMissing means admin consent has not been granted in the tenant.
	ConnectionConsentMissing ConnectionStatus = "consent_missing"
	// ConnectionPermissionDenied means Graph refused a required permission.
	ConnectionPermissionDenied ConnectionStatus = "permission_denied"
	// ConnectionInvalidCredentials means Graph refused the app's credentials (unknown
	// client, wrong or unreadable secret).
	ConnectionInvalidCredentials ConnectionStatus = "invalid_credentials"
	// ConnectionDisabled means an operator switched the connection off.
	ConnectionDisabled ConnectionStatus = "disabled"
)

// Valid reports whether st is one of the defined statuses.
func (st ConnectionStatus) Valid() bool {
	switch st {
	case ConnectionOK, ConnectionConsentMissing, ConnectionPermissionDenied, ConnectionInvalidCredentials, ConnectionDisabled:
		return true
	}
	return false
}

// ProviderMicrosoft is the only provider so far: Microsoft Graph via an Entra app.
const ProviderMicrosoft = "microsoft"

// maxReason caps a status reason; it is a reason code or a short sanitized sentence.
const maxReason = 500

// ProviderConnection is how the platform reaches one tenant's Microsoft Graph.
type ProviderConnection struct {
	// ID is the connection id (UUIDv7).
	ID uuid.UUID
	// TenantID is the managed tenant the connection serves.
	TenantID uuid.UUID
	// Provider is "microsoft" ("" means "microsoft" when adding).
	Provider string
	// DisplayName is the connection's label.
	DisplayName string
	// IsDefault marks the tenant's default connection; decided by AddProviderConnection.
	IsDefault bool
	// Status is whether the connection can be used ("" means ok when adding).
	Status ConnectionStatus
	// EntraTenantID is the Entra tenant the app signs in to.
	EntraTenantID string
	// ClientID is the app registration's client (application) id.
	ClientID string
	// SecretRef names where the client secret is kept: "env:NAME" with NAME starting
	// with graph.SecretEnvPrefix (or the demo's graph.DemoSecretEnv), or "file:NAME"
	// relative to the secrets directory (graph.CheckSecretRef); never the secret itself,
	// and never written into events.
	SecretRef string
	// GraphBaseURL is "" for the real Microsoft Graph, else e.g. the simulator's URL:
	// https, or plain http only to a loopback address (graph.CheckEndpoint).
	GraphBaseURL string
	// StatusReason is the reason code or short text of the last status change.
	StatusReason string
	// UpdatedAt is when the connection was added or last changed.
	UpdatedAt time.Time
}

// checkGraphBaseURL accepts "" or an absolute http(s) URL without credentials, query
// or fragment, https unless its host is loopback (the token endpoint is derived from
// it), and returns it normalized (lower-case scheme, no trailing slash).
func checkGraphBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("graph base URL must be an absolute http(s) URL without credentials or query: %w", ErrInvalid)
	}
	if err := graph.CheckEndpoint(raw); err != nil {
		return "", fmt.Errorf("graph base URL: %w: %w", err, ErrInvalid)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// checkReason trims a status reason and checks its length.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) > maxReason {
		return "", fmt.Errorf("status reason longer than %d characters: %w", maxReason, ErrInvalid)
	}
	return reason, nil
}

// CheckProviderConnection validates and normalizes a connection's fields the way
// AddProviderConnection does (errors wrap ErrInvalid), without storing anything: callers
// adding a tenant and its connection check the connection before adding the tenant.
func CheckProviderConnection(pc ProviderConnection) (ProviderConnection, error) {
	var err error
	if pc.Provider == "" {
		pc.Provider = ProviderMicrosoft
	}
	if pc.Provider != ProviderMicrosoft {
		return ProviderConnection{}, fmt.Errorf("provider %q: %w", pc.Provider, ErrInvalid)
	}
	if pc.Status == "" {
		pc.Status = ConnectionOK
	}
	if !pc.Status.Valid() {
		return ProviderConnection{}, fmt.Errorf("status %q: %w", pc.Status, ErrInvalid)
	}
	if pc.DisplayName, err = cleanName("display name", pc.DisplayName, 200); err != nil {
		return ProviderConnection{}, err
	}
	if pc.EntraTenantID, err = cleanName("Entra tenant id", pc.EntraTenantID, 255); err != nil {
		return ProviderConnection{}, err
	}
	if pc.ClientID, err = cleanName("client id", pc.ClientID, 255); err != nil {
		return ProviderConnection{}, err
	}
	if pc.SecretRef = strings.TrimSpace(pc.SecretRef); pc.SecretRef != "" {
		if pc.SecretRef, err = cleanName("secret reference", pc.SecretRef, 500); err != nil {
			return ProviderConnection{}, err
		}
		if err := graph.CheckSecretRef(pc.SecretRef); err != nil {
			return ProviderConnection{}, fmt.Errorf("%w: %w", err, ErrInvalid)
		}
	}
	if pc.GraphBaseURL, err = checkGraphBaseURL(pc.GraphBaseURL); err != nil {
		return ProviderConnection{}, err
	}
	if pc.StatusReason, err = checkReason(pc.StatusReason); err != nil {
		return ProviderConnection{}, err
	}
	return pc, nil
}

// AddProviderConnection adds a connection to a tenant. pc.IsDefault is ignored: the
// tenant's first connection (more exactly, any added while it has no default) becomes
// its default, later ones do not, so there is at most one default per tenant.
func (s *Service) AddProviderConnection(ctx context.Context, actor Actor, pc ProviderConnection) (ProviderConnection, error) {
	wrap := func(err error) (ProviderConnection, error) {
		return ProviderConnection{}, fmt.Errorf("tenancy: add provider connection: %w", err)
	}
	if err := checkActor(actor); err != nil {
		return wrap(err)
	}
	pc, err := CheckProviderConnection(pc)
	if err != nil {
		return wrap(err)
	}
	if pc.ID, err = newID(); err != nil {
		return wrap(err)
	}
	pc.UpdatedAt = s.clock()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the tenant row so concurrent adds decide "first = default" one at a time;
		// the partial unique index is the backstop.
		var workspaceID uuid.UUID
		err := tx.QueryRow(ctx, sqlLockTenantForConnection, pc.TenantID).Scan(&workspaceID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("tenant %s: %w", pc.TenantID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, sqlTenantHasNoDefaultConnection, pc.TenantID).Scan(&pc.IsDefault); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlInsertConnection,
			pc.ID, pc.TenantID, pc.Provider, pc.DisplayName, pc.IsDefault, string(pc.Status), pc.StatusReason,
			pc.EntraTenantID, pc.ClientID, pc.SecretRef, pc.GraphBaseURL, pc.UpdatedAt); err != nil {
			return mapDBError(err)
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamProviderConnection, pc.ID), eventstore.NoStream,
			eventstore.Metadata{Actor: actor, WorkspaceID: workspaceID, TenantID: pc.TenantID},
			ProviderConnectionAdded{ConnectionID: pc.ID, TenantID: pc.TenantID, Provider: pc.Provider,
				DisplayName: pc.DisplayName, IsDefault: pc.IsDefault, Status: pc.Status,
				EntraTenantID: pc.EntraTenantID, ClientID: pc.ClientID, GraphBaseURL: pc.GraphBaseURL,
				SecretRefSet: pc.SecretRef != ""})
	})
	if err != nil {
		return wrap(err)
	}
	return pc, nil
}

// SetConnectionStatus sets a connection's status and reason (ErrNotFound when unknown);
// setting the same status and reason again changes nothing and appends nothing. The
// reason must already be sanitized: a reason code or a short sentence, no secrets.
func (s *Service) SetConnectionStatus(ctx context.Context, actor Actor, connID uuid.UUID, status ConnectionStatus, reason string) error {
	wrap := func(err error) error { return fmt.Errorf("tenancy: set connection status: %w", err) }
	if err := checkActor(actor); err != nil {
		return wrap(err)
	}
	if !status.Valid() {
		return wrap(fmt.Errorf("status %q: %w", status, ErrInvalid))
	}
	reason, err := checkReason(reason)
	if err != nil {
		return wrap(err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			tenantID, workspaceID uuid.UUID
			from, fromReason      string
		)
		err := tx.QueryRow(ctx, sqlLockConnectionStatus, connID).Scan(&tenantID, &workspaceID, &from, &fromReason)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("provider connection %s: %w", connID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if ConnectionStatus(from) == status && fromReason == reason {
			return nil
		}
		if _, err := tx.Exec(ctx, sqlUpdateConnectionStatus, connID, string(status), reason, s.clock()); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamProviderConnection, connID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor, WorkspaceID: workspaceID, TenantID: tenantID},
			ProviderConnectionStatusChanged{ConnectionID: connID, TenantID: tenantID,
				From: ConnectionStatus(from), To: status, Reason: reason})
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// SetConnectionEndpoint points a connection at another Graph base URL ("" for the real
// Microsoft Graph). Setting the URL it has already changes nothing.
func (s *Service) SetConnectionEndpoint(ctx context.Context, actor Actor, connID uuid.UUID, baseURL string) error {
	wrap := func(err error) error { return fmt.Errorf("tenancy: set connection endpoint: %w", err) }
	if err := checkActor(actor); err != nil {
		return wrap(err)
	}
	baseURL, err := checkGraphBaseURL(baseURL)
	if err != nil {
		return wrap(err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var tenantID, workspaceID uuid.UUID
		var from string
		err := tx.QueryRow(ctx, sqlLockConnectionEndpoint, connID).Scan(&tenantID, &workspaceID, &from)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("provider connection %s: %w", connID, ErrNotFound)
		}
		if err != nil || from == baseURL {
			return err
		}
		if _, err := tx.Exec(ctx, sqlUpdateConnectionEndpoint, connID, baseURL, s.clock()); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamProviderConnection, connID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor, WorkspaceID: workspaceID, TenantID: tenantID},
			ProviderConnectionEndpointChanged{ConnectionID: connID, TenantID: tenantID, From: from, To: baseURL})
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// scanConnection reads a connection from the columns connections.sql lists.
func scanConnection(row pgx.Row) (ProviderConnection, error) {
	var pc ProviderConnection
	var status string
	err := row.Scan(&pc.ID, &pc.TenantID, &pc.Provider, &pc.DisplayName, &pc.IsDefault, &status,
		&pc.EntraTenantID, &pc.ClientID, &pc.SecretRef, &pc.GraphBaseURL, &pc.StatusReason, &pc.UpdatedAt)
	pc.Status = ConnectionStatus(status)
	pc.UpdatedAt = pc.UpdatedAt.UTC()
	return pc, err
}

// DefaultConnection returns the tenant's default provider connection, whatever its
// status, or ErrNotFound when the tenant has none.
func (s *Service) DefaultConnection(ctx context.Context, tenantID uuid.UUID) (ProviderConnection, error) {
	pc, err := scanConnection(s.pool.QueryRow(ctx, sqlDefaultConnection, tenantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return ProviderConnection{}, fmt.Errorf("tenancy: default connection of tenant %s: %w", tenantID, ErrNotFound)
	}
	if err != nil {
		return ProviderConnection{}, fmt.Errorf("tenancy: default connection of tenant %s: %w", tenantID, err)
	}
	return pc, nil
}

// Connection returns the provider connection with the given id, or ErrNotFound.
func (s *Service) Connection(ctx context.Context, connID uuid.UUID) (ProviderConnection, error) {
	pc, err := scanConnection(s.pool.QueryRow(ctx, sqlConnectionByID, connID))
	if errors.Is(err, pgx.ErrNoRows) {
		return ProviderConnection{}, fmt.Errorf("tenancy: provider connection %s: %w", connID, ErrNotFound)
	}
	if err != nil {
		return ProviderConnection{}, fmt.Errorf("tenancy: provider connection %s: %w", connID, err)
	}
	return pc, nil
}

// ConnectionsOf returns a tenant's provider connections, the default first.
func (s *Service) ConnectionsOf(ctx context.Context, tenantID uuid.UUID) ([]ProviderConnection, error) {
	rows, err := s.pool.Query(ctx, sqlConnectionsOfTenant, tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenancy: connections of tenant %s: %w", tenantID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProviderConnection, error) { return scanConnection(r) })
	if err != nil {
		return nil, fmt.Errorf("tenancy: connections of tenant %s: %w", tenantID, err)
	}
	return out, nil
}
