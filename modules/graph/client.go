// Package graph is the one way TenantAtlas talks to Microsoft Graph: a contract registry
// (which object types exist, at which endpoint, with which $select fields) and the Client
// interface every Graph call goes through. The msgraph-sdk-go implementation lives in
// graph/msgraph (the only package that imports the SDK, to keep its build cost in one
// place); the Graph simulator lives in graph/graphsim.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0, a leaf library: it
// imports nothing of the project and must not import the event store or any module;
// callers hand it a Connection.
package graph

import (
	"context"
	"errors"
	"fmt"
)

// Object is one Graph object as JSON: only the registry's $select fields for lists,
// the full payload for Get.
type Object map[string]any

// ID returns the object's "id" field ("" when missing).
func (o Object) ID() string {
	s, _ := o["id"].(string)
	return s
}

// Connection says which tenant to call as which app. It never holds the secret itself:
// SecretRef is resolved when a token is requested ("env:NAME" or "file:PATH").
type Connection struct {
	// EntraTenantID is the directory (tenant) id the app signs in to.
	EntraTenantID string
	// ClientID is the app registration's client id.
	ClientID string
	// SecretRef names where the client secret is kept.
	SecretRef string
	// BaseURL is "" for https://graph.microsoft.com, else e.g. the simulator's URL. The
	// token endpoint is then BaseURL + "/{tenant}/oauth2/v2.0/token".
	BaseURL string
}

// Client is every Graph call the project makes. Object types are registry names
// (Lookup); an unregistered type fails with ErrContractMissing and no request is made.
type Client interface {
	// List pages through every object of objectType (following @odata.nextLink) and calls
	// fn once per page, in order. fn returning an error stops the listing with that error.
	List(ctx context.Context, conn Connection, objectType string, fn func(page []Object) error) error
	// Get reads one object of objectType in full.
	Get(ctx context.Context, conn Connection, objectType, id string) (Object, error)
	// Create creates an object of a Writable objectType from body (POST to the
	// collection) and returns the object Graph answers with, its new id included.
	Create(ctx context.Context, conn Connection, objectType string, body Object) (Object, error)
	// Update changes the object id of a Writable objectType to the fields of body (PATCH).
	Update(ctx context.Context, conn Connection, objectType, id string, body Object) error
}

// Kind classifies a Graph failure; handlers map kinds to run reason codes.
type Kind string

// The failure kinds.
const (
	KindContractMissing  Kind = "contract_missing"  // type not in the registry: no call made
	KindConsentMissing   Kind = "consent_missing"   // the token endpoint refused: no admin consent
	KindInvalidClient    Kind = "invalid_client"    // bad client id/secret/tenant
	KindPermissionDenied Kind = "permission_denied" // 403 from Graph
	KindNotFound         Kind = "not_found"         // 404
	KindThrottled        Kind = "throttled"         // 429 after the bounded retries
	KindUnavailable      Kind = "unavailable"       // 503/504 after the bounded retries
	KindTimeout          Kind = "timeout"           // no answer in time
	KindRequestFailed    Kind = "request_failed"    // any other failure
)

// Error is a Graph failure. Message is safe to store and show: it never holds a token,
// a secret or a raw response body.
type Error struct {
	Kind       Kind
	Status     int    // HTTP status, 0 when none
	ObjectType string // the registry type asked for
	Message    string
	// Err is the underlying cause where one is safe to keep (a context error); it is
	// never part of Error().
	Err error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("graph %s: %s (HTTP %d): %s", e.ObjectType, e.Kind, e.Status, e.Message)
	}
	return fmt.Sprintf("graph %s: %s: %s", e.ObjectType, e.Kind, e.Message)
}

// Unwrap returns the underlying cause, if any (errors.Is(err, context.DeadlineExceeded)).
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, or KindRequestFailed when err is not an *Error.
func KindOf(err error) Kind {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Kind
	}
	return KindRequestFailed
}
