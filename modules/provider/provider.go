// Package provider is the Microsoft provider glue every Graph-backed run type shares:
// it turns a run's provider connection into a graph.Connection, maps Graph failure
// kinds to run reason codes (recording consent and permission failures on the
// connection, so the start gate blocks what would fail next), and runs
// provider.verify.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, a run-type module:
// it imports graph, tenancy and operations, and must not import projections,
// modules/monolith, web or cmd/; the run types that need it import it.
package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/graph"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// actor is who records connection statuses found by runs.
const actor = "system:provider"

// ReasonFor maps a Graph failure kind to the run reason code of the same meaning.
func ReasonFor(k graph.Kind) failure.Code {
	switch k {
	case graph.KindConsentMissing:
		return failure.ProviderConsentMissing
	case graph.KindPermissionDenied:
		return failure.ProviderPermissionDenied
	case graph.KindThrottled:
		return failure.GraphThrottled
	case graph.KindUnavailable:
		return failure.GraphUnavailable
	case graph.KindTimeout:
		return failure.GraphTimeout
	case graph.KindContractMissing:
		return failure.GraphContractMissing
	case graph.KindInvalidClient:
		return failure.ProviderConnectionInvalid
	default:
		return failure.GraphRequestFailed
	}
}

// Fatal reports whether a Graph failure of kind k makes every further call of the run
// fail too (the app cannot sign in), so the run stops instead of failing item by item.
func Fatal(k graph.Kind) bool {
	return k == graph.KindConsentMissing || k == graph.KindInvalidClient
}

// Message is the storable text of a Graph failure: graph.Error messages are safe by
// contract and still go through the sanitizer; anything else says only its kind.
func Message(err error) string {
	var ge *graph.Error
	if errors.As(err, &ge) {
		return failure.Sanitize(ge.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Microsoft Graph did not answer in time."
	}
	return "The Microsoft Graph request failed."
}

// RunError is the run failure of a Graph error.
func RunError(err error) *operations.RunError {
	return &operations.RunError{Code: ReasonFor(graph.KindOf(err)), Message: Message(err)}
}

// GraphConnection is the graph.Connection of a provider connection.
func GraphConnection(pc tenancy.ProviderConnection) graph.Connection {
	return graph.Connection{EntraTenantID: pc.EntraTenantID, ClientID: pc.ClientID, SecretRef: pc.SecretRef, BaseURL: pc.GraphBaseURL}
}

// Service resolves connections and records what runs learn about them.
type Service struct {
	ten   *tenancy.Service
	graph graph.Client
	log   *slog.Logger
	// refused maps a Graph host this process does not serve to the reason (RefuseHost).
	refused map[string]string
}

// RefuseHost makes every connection whose Graph base URL names host unusable in this
// process, with message as the reason: the gate blocks its starts and the workers fail
// its runs with provider_connection_invalid. Call it before Register.
func (s *Service) RefuseHost(host, message string) {
	if s.refused == nil {
		s.refused = map[string]string{}
	}
	s.refused[strings.ToLower(host)] = message
}

// Check says why pc cannot be used by this process, or nil: its Graph endpoint or
// secret reference breaks the rules (graph.CheckEndpoint, graph.CheckSecretRef; rows
// written before the rules existed), or it names a refused host. It does no I/O.
func (s *Service) Check(pc tenancy.ProviderConnection) *operations.RunError {
	invalid := func(msg string) *operations.RunError {
		return &operations.RunError{Code: failure.ProviderConnectionInvalid, Message: msg}
	}
	if err := graph.CheckEndpoint(pc.GraphBaseURL); err != nil {
		return invalid("The provider connection's Graph endpoint was refused: it must use https (plain http only to a loopback address).")
	}
	if pc.GraphBaseURL != "" {
		if u, err := url.Parse(pc.GraphBaseURL); err == nil {
			if msg, ok := s.refused[strings.ToLower(u.Hostname())]; ok {
				return invalid(msg)
			}
		}
	}
	if err := graph.CheckSecretRef(pc.SecretRef); err != nil {
		return invalid("The provider connection's client secret reference was refused: it must be env:ATLAS_GRAPH_SECRET_… or file:NAME under ATLAS_SECRETS_DIR.")
	}
	return nil
}

// New returns the provider service.
func New(ten *tenancy.Service, client graph.Client, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{ten: ten, graph: client, log: log}
}

// Graph is the Graph client runs call.
func (s *Service) Graph() graph.Client { return s.graph }

// Connection returns the run's provider connection as a graph.Connection; a missing
// connection is a *operations.RunError (provider_connection_missing).
func (s *Service) Connection(ctx context.Context, run *operations.Run) (graph.Connection, error) {
	pc, err := s.connection(ctx, run)
	if err != nil {
		return graph.Connection{}, err
	}
	return GraphConnection(pc), nil
}

func (s *Service) connection(ctx context.Context, run *operations.Run) (tenancy.ProviderConnection, error) {
	if run.ProviderConnectionID == uuid.Nil {
		return tenancy.ProviderConnection{}, &operations.RunError{Code: failure.ProviderConnectionMissing, Message: "The run has no provider connection."}
	}
	pc, err := s.ten.Connection(ctx, run.ProviderConnectionID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return tenancy.ProviderConnection{}, &operations.RunError{Code: failure.ProviderConnectionMissing, Message: "The run's provider connection no longer exists."}
	}
	if err != nil {
		return tenancy.ProviderConnection{}, fmt.Errorf("provider: connection: %w", err)
	}
	if re := s.Check(pc); re != nil {
		return tenancy.ProviderConnection{}, re
	}
	return pc, nil
}

// Failed turns a Graph error that ends a run into its *operations.RunError. Consent,
// permission and credential failures are recorded on the run's connection as well, so the gate
// blocks the next provider-backed start until provider.verify passes again.
func (s *Service) Failed(ctx context.Context, run *operations.Run, err error) error {
	re := RunError(err)
	var status tenancy.ConnectionStatus
	switch graph.KindOf(err) {
	case graph.KindConsentMissing:
		status = tenancy.ConnectionConsentMissing
	case graph.KindPermissionDenied:
		status = tenancy.ConnectionPermissionDenied
	case graph.KindInvalidClient:
		status = tenancy.ConnectionInvalidCredentials
	}
	if status != "" && run.ProviderConnectionID != uuid.Nil {
		if serr := s.ten.SetConnectionStatus(context.WithoutCancel(ctx), actor, run.ProviderConnectionID, status, string(re.Code)); serr != nil {
			s.log.Error("recording the connection status failed", "run", run.ID, "error", failure.Sanitize(serr.Error()))
		}
	}
	s.log.Warn("graph call failed", "run", run.ID, "type", run.Type, "reason", re.Code, "message", re.Message)
	return re
}

// ProbeTypes are the registry types the product reads; provider.verify lists one page
// of each to check the app's permissions.
var ProbeTypes = []string{"groups", "roleDefinitions", "deviceConfigurations", "compliancePolicies", "settingsCatalogPolicies"}

// errEnough stops a probe after its first page.
var errEnough = errors.New("provider: probe read one page")

// firstPage lists one page of objectType.
func (s *Service) firstPage(ctx context.Context, conn graph.Connection, objectType string) ([]graph.Object, error) {
	var page []graph.Object
	err := s.graph.List(ctx, conn, objectType, func(p []graph.Object) error {
		page = p
		return errEnough
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return page, nil
}

// Register installs the provider.verify handler and the gate's connection check (Check).
func (s *Service) Register(ops *operations.Service) {
	ops.Handle("provider.verify", s.Verify)
	ops.CheckConnections(func(_ context.Context, pc tenancy.ProviderConnection) *operations.RunError { return s.Check(pc) })
}

// Verify is the provider.verify handler: it signs in and reads the organization, then
// lists one page of every ProbeTypes type. It records the outcome on the connection
// (ok, consent_missing or permission_denied with a reason) and links the connection;
// the run succeeds only when the connection is ok.
func (s *Service) Verify(ctx context.Context, run *operations.Run, rep *operations.Reporter) (operations.Outcome, error) {
	pc, err := s.connection(ctx, run)
	if err != nil {
		return "", err
	}
	if err := rep.Link(ctx, operations.LinkProviderConnection, pc.ID); err != nil {
		return "", err
	}
	conn := GraphConnection(pc)
	if err := rep.Progress(ctx, operations.Counts{"total": int64(1 + len(ProbeTypes))}); err != nil {
		return "", err
	}
	org, err := s.firstPage(ctx, conn, "organization")
	if err == nil && len(org) == 0 {
		err = &graph.Error{Kind: graph.KindRequestFailed, ObjectType: "organization", Message: "the organization could not be read"}
	}
	if err != nil {
		if ferr := rep.Progress(ctx, operations.Counts{"processed": 1, "failed": 1}); ferr != nil {
			return "", ferr
		}
		return "", s.Failed(ctx, run, err)
	}
	if err := rep.Progress(ctx, operations.Counts{"processed": 1, "succeeded": 1}); err != nil {
		return "", err
	}
	var denied []string
	var firstDenied error
	for _, typ := range ProbeTypes {
		_, err := s.firstPage(ctx, conn, typ)
		switch {
		case err == nil:
			if err := rep.Progress(ctx, operations.Counts{"processed": 1, "succeeded": 1}); err != nil {
				return "", err
			}
		case graph.KindOf(err) == graph.KindPermissionDenied:
			denied = append(denied, typ)
			if firstDenied == nil {
				firstDenied = err
			}
			if err := rep.Progress(ctx, operations.Counts{"processed": 1, "failed": 1}); err != nil {
				return "", err
			}
			if err := rep.Fail(ctx, failure.ProviderPermissionDenied, Message(err)); err != nil {
				return "", err
			}
		default:
			// Consent, credentials, throttling, outages: the check could not finish.
			if ferr := rep.Progress(ctx, operations.Counts{"processed": 1, "failed": 1}); ferr != nil {
				return "", ferr
			}
			return "", s.Failed(ctx, run, err)
		}
	}
	if len(denied) > 0 {
		reason := string(failure.ProviderPermissionDenied) + ": " + strings.Join(denied, ", ")
		if err := s.ten.SetConnectionStatus(ctx, actor, pc.ID, tenancy.ConnectionPermissionDenied, reason); err != nil {
			return "", fmt.Errorf("provider: record status: %w", err)
		}
		return "", &operations.RunError{Code: failure.ProviderPermissionDenied,
			Message: fmt.Sprintf("The app may not read %s. %s", strings.Join(denied, ", "), Message(firstDenied))}
	}
	if err := s.ten.SetConnectionStatus(ctx, actor, pc.ID, tenancy.ConnectionOK, "verified"); err != nil {
		return "", fmt.Errorf("provider: record status: %w", err)
	}
	s.log.Info("provider connection verified", "run", run.ID, "connection", pc.ID)
	return operations.OutcomeSucceeded, nil
}
