// Package msgraph is the graph.Client backed by Microsoft's Graph SDK for Go: the
// request adapter of msgraph-sdk-go-core (kiota) and msgraph-sdk-go's OData error model.
// It is the only package of the project that imports the SDK.
//
// Build cost: msgraph-sdk-go's generated request builders and its `models` package take
// minutes and gigabytes to compile cold. This package needs neither: requests are built as
// raw kiota RequestInformation from the contract registry (URL, $select, $top), answers are
// read as untyped JSON into graph.Object, and paging follows @odata.nextLink. Only
// msgraph-sdk-go/models/odataerrors (four small files) is imported from the SDK proper.
//
// Retries: kiota's default middleware includes a RetryHandler for 429/503/504. This
// package builds the middleware list without it and puts graph.RetryTransport under the
// kiota pipeline as the one retry layer (see middlewares and the tests counting the
// simulator's requests).
//
// Layering (README.md, "Architecture: layers and imports"): floor 0: of the project it
// imports only graph, and must not import the event store or any other module.
package msgraph

import (
	"context"
	"encoding/json"
	"errors"
	gojson "github.com/goccy/go-json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tenantatlas/ops/modules/graph"
)

// The public cloud's endpoints, used when Connection.BaseURL is "".
const (
	GraphBaseURL = "https://graph.microsoft.com"
	LoginBaseURL = "https://login.microsoftonline.com"
	// GraphScope is the client-credentials scope: every application permission granted.
	GraphScope = "https://graph.microsoft.com/.default"
)

// Options configure a Client.
type Options struct {
	// HTTPClient supplies the transport (nil: a clone of http.DefaultTransport). Its own
	// Transport is wrapped, never changed; its Timeout is ignored in favour of Timeout.
	HTTPClient *http.Client
	// Retry bounds the retries of 429/503/504 (zero value: graph.RetryPolicy defaults).
	Retry graph.RetryPolicy
	// Logger receives debug lines on retries and token fetches (never a token, a secret, a
	// header or a body); nil discards.
	Logger *slog.Logger
	// Timeout bounds one HTTP exchange, retries included (default 2 minutes).
	Timeout time.Duration
	// Getenv resolves "env:NAME" secret references (nil: os.Getenv); only names
	// graph.CheckSecretRef allows are ever asked for.
	Getenv func(string) string
	// SecretsDir is the one directory "file:NAME" secret references are read from
	// (ATLAS_SECRETS_DIR); "" refuses every file reference.
	SecretsDir string
}

// Client implements graph.Client with the Graph SDK's request adapter.
type Client struct {
	log      *slog.Logger
	timeout  time.Duration
	api      *http.Client // kiota middleware (no retry handler) over RetryTransport
	tokenAPI *http.Client // RetryTransport only, for the token endpoint
	tokens   *tokenCache

	mu       sync.Mutex
	adapters map[adapterKey]*core.GraphRequestAdapterBase
}

type adapterKey struct{ tenant, client, secretRef, baseURL string }

var _ graph.Client = (*Client)(nil)

// New returns a Graph client. It holds a token cache per (tenant, client) and reuses
// connections; one Client serves every tenant.
func New(opts Options) graph.Client {
	return newClient(opts)
}

func newClient(opts Options) *Client {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	var base http.RoundTripper
	if opts.HTTPClient != nil && opts.HTTPClient.Transport != nil {
		base = opts.HTTPClient.Transport
	} else {
		base = khttp.GetDefaultTransport()
	}
	retry := graph.NewRetryTransport(base, opts.Retry, log)
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{
		log:     log,
		timeout: timeout,
		api: &http.Client{
			Transport:     khttp.NewCustomTransportWithParentTransport(retry, middlewares()...),
			CheckRedirect: noRedirect,
		},
		tokenAPI: &http.Client{Transport: retry, CheckRedirect: noRedirect},
		adapters: map[adapterKey]*core.GraphRequestAdapterBase{},
	}
	c.tokens = newTokenCache(c.tokenAPI, opts.Getenv, opts.SecretsDir, log)
	return c
}

// middlewares is msgraph-sdk-go-core's default middleware list without kiota's
// RetryHandler: graph.RetryTransport is the only retry layer.
func middlewares() []khttp.Middleware {
	all := core.GetDefaultMiddlewaresWithOptions(&core.GraphClientOptions{
		GraphServiceVersion:        "v1.0",
		GraphServiceLibraryVersion: "tenantatlas",
	})
	out := make([]khttp.Middleware, 0, len(all))
	for _, m := range all {
		if _, isRetry := m.(*khttp.RetryHandler); isRetry {
			continue
		}
		out = append(out, m)
	}
	return out
}

// errorMappings decodes every 4XX/5XX body as a Graph OData error.
var errorMappings = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// parseNodes reads JSON error bodies (answers themselves are read as raw bytes).
var parseNodes = func() absser.ParseNodeFactory {
	r := absser.NewParseNodeFactoryRegistry()
	r.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	return r
}()

var serializers = func() absser.SerializationWriterFactory {
	r := absser.NewSerializationWriterFactoryRegistry()
	r.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	return r
}()

// adapter returns the request adapter of conn (one per tenant, client and base URL).
func (c *Client) adapter(conn graph.Connection) (*core.GraphRequestAdapterBase, error) {
	key := adapterKey{conn.EntraTenantID, conn.ClientID, conn.SecretRef, conn.BaseURL}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.adapters[key]; ok {
		return a, nil
	}
	u, err := url.Parse(apiBase(conn))
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("invalid base URL")
	}
	hosts, err := absauth.NewAllowedHostsValidatorErrorCheck([]string{u.Hostname()})
	if err != nil {
		return nil, err
	}
	provider := &tokenProvider{cache: c.tokens, conn: conn, hosts: hosts}
	a, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		absauth.NewBaseBearerTokenAuthenticationProvider(provider),
		core.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "tenantatlas"},
		parseNodes, serializers, c.api)
	if err != nil {
		return nil, err
	}
	a.SetBaseUrl(apiBase(conn))
	c.adapters[key] = a
	return a, nil
}

// apiBase is the Graph base URL of conn, without a trailing slash.
func apiBase(conn graph.Connection) string {
	if conn.BaseURL == "" {
		return GraphBaseURL
	}
	return strings.TrimRight(conn.BaseURL, "/")
}

// apiHost is the host[:port] requests of conn may go to (and carry its token to).
func apiHost(conn graph.Connection) string {
	u, err := url.Parse(apiBase(conn))
	if err != nil {
		return ""
	}
	return u.Host
}

// List pages through every object of objectType, calling fn once per page.
func (c *Client) List(ctx context.Context, conn graph.Connection, objectType string, fn func(page []graph.Object) error) error {
	contract, ok := graph.Lookup(objectType)
	if !ok {
		return graph.ContractMissing(objectType)
	}
	if err := checkConnection(conn, objectType); err != nil {
		return err
	}
	next := contract.ListURL(apiBase(conn))
	host := apiHost(conn)
	for page := 1; next != ""; page++ {
		u, err := url.Parse(next)
		if err != nil || u.Host != host {
			// A nextLink elsewhere would carry the tenant's token off-site.
			return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "Graph returned a next page link outside the Graph host; not followed"}
		}
		body, err := c.send(ctx, conn, objectType, u)
		if err != nil {
			return err
		}
		var resp struct {
			Value    []graph.Object `json:"value"`
			NextLink string         `json:"@odata.nextLink"`
		}
		// goccy/go-json decodes a page about twice as fast as encoding/json (the sync of a
		// large directory spends most of its Go time here).
		if err := gojson.Unmarshal(body, &resp); err != nil {
			return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "Graph returned a page that is not a JSON collection"}
		}
		if resp.Value == nil {
			resp.Value = []graph.Object{}
		}
		if err := fn(resp.Value); err != nil {
			return err
		}
		next = resp.NextLink
	}
	return nil
}

// Get reads one object of objectType in full.
func (c *Client) Get(ctx context.Context, conn graph.Connection, objectType, id string) (graph.Object, error) {
	contract, ok := graph.Lookup(objectType)
	if !ok {
		return nil, graph.ContractMissing(objectType)
	}
	if err := checkConnection(conn, objectType); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, &graph.Error{Kind: graph.KindNotFound, ObjectType: objectType, Message: "empty object id"}
	}
	u, err := url.Parse(contract.ItemURL(apiBase(conn), id))
	if err != nil {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "invalid object id"}
	}
	body, err := c.send(ctx, conn, objectType, u)
	if err != nil {
		return nil, err
	}
	var obj graph.Object
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "Graph returned an object that is not JSON"}
	}
	delete(obj, "@odata.context")
	return obj, nil
}

// checkConnection refuses a connection that cannot sign in, before any request.
func checkConnection(conn graph.Connection, objectType string) error {
	if conn.EntraTenantID == "" || conn.ClientID == "" || conn.SecretRef == "" {
		return &graph.Error{Kind: graph.KindInvalidClient, ObjectType: objectType, Message: "the provider connection lacks a tenant id, client id or secret reference"}
	}
	if err := graph.CheckSecretRef(conn.SecretRef); err != nil {
		return &graph.Error{Kind: graph.KindInvalidClient, ObjectType: objectType, Message: "the client secret reference was refused: " + err.Error()}
	}
	if conn.BaseURL != "" {
		u, err := url.Parse(conn.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return &graph.Error{Kind: graph.KindInvalidClient, ObjectType: objectType, Message: "the provider connection's base URL is invalid"}
		}
		if err := graph.CheckEndpoint(conn.BaseURL); err != nil {
			return &graph.Error{Kind: graph.KindInvalidClient, ObjectType: objectType, Message: "the provider connection's base URL was refused: " + err.Error()}
		}
	}
	return nil
}

// send GETs u through the kiota adapter and returns the raw answer body, or a
// *graph.Error built from the Graph error code and fixed text only.
func (c *Client) send(ctx context.Context, conn graph.Connection, objectType string, u *url.URL) ([]byte, error) {
	body, err := c.do(ctx, conn, objectType, abs.GET, u, nil)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "Graph returned an empty answer"}
	}
	return body, nil
}

// Create posts body to the collection of a writable objectType and returns the
// created object.
func (c *Client) Create(ctx context.Context, conn graph.Connection, objectType string, body graph.Object) (graph.Object, error) {
	contract, ok := graph.LookupWritable(objectType)
	if !ok {
		return nil, graph.WriteContractMissing(objectType)
	}
	if err := checkConnection(conn, objectType); err != nil {
		return nil, err
	}
	u, err := url.Parse(contract.CollectionURL(apiBase(conn)))
	if err != nil {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "invalid collection URL"}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "the object is not JSON"}
	}
	answer, err := c.do(ctx, conn, objectType, abs.POST, u, payload)
	if err != nil {
		return nil, err
	}
	var obj graph.Object
	if err := json.Unmarshal(answer, &obj); err != nil || obj == nil {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "Graph answered a create with an object that is not JSON"}
	}
	delete(obj, "@odata.context")
	return obj, nil
}

// Update patches the object id of a writable objectType with body.
func (c *Client) Update(ctx context.Context, conn graph.Connection, objectType, id string, body graph.Object) error {
	contract, ok := graph.LookupWritable(objectType)
	if !ok {
		return graph.WriteContractMissing(objectType)
	}
	if err := checkConnection(conn, objectType); err != nil {
		return err
	}
	if id == "" {
		return &graph.Error{Kind: graph.KindNotFound, ObjectType: objectType, Message: "empty object id"}
	}
	u, err := url.Parse(contract.ItemURL(apiBase(conn), id))
	if err != nil {
		return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "invalid object id"}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "the object is not JSON"}
	}
	_, err = c.do(ctx, conn, objectType, abs.PATCH, u, payload)
	return err
}

// do sends one request through the connection's request adapter (payload, when set, as
// the JSON body) and returns the answer's body, possibly empty.
func (c *Client) do(ctx context.Context, conn graph.Connection, objectType string, method abs.HttpMethod, u *url.URL, payload []byte) ([]byte, error) {
	a, err := c.adapter(conn)
	if err != nil {
		return nil, &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "could not build the Graph request adapter"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ri := abs.NewRequestInformation()
	ri.Method = method
	ri.SetUri(*u)
	ri.Headers.Add("Accept", "application/json")
	if payload != nil {
		ri.Content = payload
		ri.Headers.TryAdd("Content-Type", "application/json")
	}
	res, err := a.SendPrimitive(ctx, ri, "[]byte", errorMappings)
	if err != nil {
		return nil, c.mapError(ctx, conn, objectType, err)
	}
	body, _ := res.([]byte)
	return body, nil
}

// mapError turns whatever kiota or the token provider returned into a *graph.Error.
// The message never includes the error's own text: that text may quote a response body.
func (c *Client) mapError(ctx context.Context, conn graph.Connection, objectType string, err error) error {
	var ge *graph.Error
	if errors.As(err, &ge) {
		// From the token provider: already safe. Fill the object type in.
		out := *ge
		out.ObjectType = objectType
		return &out
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return graph.ErrorFromContext(objectType, ctxErr)
	}
	if ce := graph.ErrorFromContext(objectType, err); ce != nil {
		return ce
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		return c.fromStatus(conn, objectType, oe.ResponseStatusCode, odataCode(oe), consentHint(oe))
	}
	var ae *abs.ApiError
	if errors.As(err, &ae) {
		return c.fromStatus(conn, objectType, ae.ResponseStatusCode, "", false)
	}
	return &graph.Error{Kind: graph.KindRequestFailed, ObjectType: objectType, Message: "the request to Graph failed before an answer"}
}

// fromStatus maps a Graph failure answer to its Kind, with a fixed text per kind.
func (c *Client) fromStatus(conn graph.Connection, objectType string, status int, code string, consent bool) error {
	kind := graph.KindForStatus(status)
	if (status == http.StatusUnauthorized || status == http.StatusForbidden) && consent {
		kind = graph.KindConsentMissing
	}
	if status == http.StatusUnauthorized {
		// The cached token is no longer accepted: the next call fetches a new one.
		c.tokens.forget(conn)
	}
	msg := kindText[kind]
	if msg == "" {
		msg = "Graph answered with an error"
	}
	if code != "" {
		msg = code + ": " + msg
	}
	return &graph.Error{Kind: kind, Status: status, ObjectType: objectType, Message: msg}
}

// kindText is the fixed text of each failure kind.
var kindText = map[graph.Kind]string{
	graph.KindConsentMissing:   "the app has no admin consent in this tenant",
	graph.KindInvalidClient:    "Graph did not accept the app's credentials",
	graph.KindPermissionDenied: "the app lacks the Graph permission for this object type",
	graph.KindNotFound:         "the object does not exist",
	graph.KindThrottled:        "Graph kept throttling after the bounded retries",
	graph.KindUnavailable:      "Graph stayed unavailable after the bounded retries",
	graph.KindTimeout:          "Graph did not answer in time",
	graph.KindRequestFailed:    "Graph answered with an error",
}

// odataCode is the Graph error code, if it looks like one (letters, digits, '_', '.'
// and '-', at most 64); anything else is dropped rather than quoted.
func odataCode(oe *odataerrors.ODataError) string {
	main := oe.GetErrorEscaped()
	if main == nil || main.GetCode() == nil {
		return ""
	}
	return safeCode(*main.GetCode())
}

func safeCode(code string) string {
	if code == "" || len(code) > 64 {
		return ""
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return ""
		}
	}
	return code
}

// consentHint reports whether a 401/403 body says consent is missing (AADSTS65001,
// consent_required); the body is inspected, never copied.
func consentHint(oe *odataerrors.ODataError) bool {
	main := oe.GetErrorEscaped()
	if main == nil {
		return false
	}
	if m := main.GetMessage(); m != nil && (strings.Contains(*m, "AADSTS65001") || strings.Contains(*m, "consent_required")) {
		return true
	}
	if c := main.GetCode(); c != nil && strings.EqualFold(*c, "consent_required") {
		return true
	}
	if in := main.GetInnerError(); in != nil {
		if v, ok := in.GetAdditionalData()["code"].(*string); ok && v != nil && *v == "consent_required" {
			return true
		}
	}
	return false
}
