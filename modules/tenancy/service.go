package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
)

// Actor names who makes a change, "user:<id>", "platform:<id>" or "system:<name>"; it
// is recorded in every event's metadata.
type Actor = string

// UserActor returns the actor string of a user.
func UserActor(userID uuid.UUID) Actor { return "user:" + userID.String() }

// SystemActor returns the actor string of a system component, e.g. "seed".
func SystemActor(name string) Actor { return "system:" + name }

// Workspace is an MSP's workspace: the unit of membership that holds managed tenants.
type Workspace struct {
	// ID is the workspace id (UUIDv7).
	ID uuid.UUID
	// Name is unique across the installation.
	Name string
	// CreatedAt is when the workspace was created.
	CreatedAt time.Time
}

// Tenant is a managed Microsoft 365 tenant inside a workspace.
type Tenant struct {
	// ID is the tenant id (UUIDv7), the platform's own id.
	ID uuid.UUID
	// WorkspaceID is the workspace the tenant belongs to.
	WorkspaceID uuid.UUID
	// Name is unique within the workspace.
	Name string
	// ExternalTenantID is the Entra tenant GUID or primary domain.
	ExternalTenantID string
	// CreatedAt is when the tenant was added.
	CreatedAt time.Time
}

// User is a person who signs in to the hub or calls the API.
type User struct {
	// ID is the user id (UUIDv7).
	ID uuid.UUID
	// Email is lower-case and unique.
	Email string
	// DisplayName is the name shown in the hub.
	DisplayName string
	// CreatedAt is when the user registered.
	CreatedAt time.Time
	// SessionVersion is carried by every hub session of the user and checked on each
	// request; logout, a password change and disabling the user raise it, which ends
	// every session at once.
	SessionVersion int64
	// Disabled is true once the user is disabled: no sign-in, no session, no API token.
	Disabled bool
}

// Membership gives a user a role in a workspace or on one of its tenants.
type Membership struct {
	// UserID is the member.
	UserID uuid.UUID
	// WorkspaceID is the workspace.
	WorkspaceID uuid.UUID
	// TenantID is one tenant of the workspace, or uuid.Nil for the whole workspace.
	TenantID uuid.UUID
	// Role is the role granted.
	Role Role
}

// Options configure a Service; the zero value is ready to use.
type Options struct {
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BcryptCost is the password hashing cost; 0 means bcrypt.DefaultCost (tests use
	// bcrypt.MinCost).
	BcryptCost int
	// MaxConcurrentBcrypt caps the bcrypt computations running at once in this process
	// (sign-ins, password changes); 0 means 2 × GOMAXPROCS.
	MaxConcurrentBcrypt int
	// BcryptWait is how long a sign-in waits for a free bcrypt slot before ErrBusy; 0
	// means 2 s.
	BcryptWait time.Duration
	// BcryptHook, when set, is called with +1 as each bcrypt computation starts (inside
	// the cap) and with -1 as it ends: tests count and slow down password checks with it.
	BcryptHook func(delta int)
}

// Service is the tenancy module: it owns the tn_ tables and the tenancy events.
type Service struct {
	pool  *pgxpool.Pool
	store *eventstore.Store
	log   *slog.Logger
	now   func() time.Time
	cost  int
	audit *audit.Recorder

	bcryptSem  chan struct{}
	bcryptWait time.Duration
	onBcrypt   func(delta int)

	dummyOnce sync.Once
	dummyHash []byte
	dummyErr  error
}

// New returns a Service over pool, appending its events to store; the schema must be
// migrated (Migrations) and the events registered (RegisterEvents, and
// audit.RegisterEvents for the sign-in and user-administration audit entries) in
// store's registry.
func New(pool *pgxpool.Pool, store *eventstore.Store, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cost := opts.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	capacity := opts.MaxConcurrentBcrypt
	if capacity <= 0 {
		capacity = 2 * runtime.GOMAXPROCS(0)
	}
	wait := opts.BcryptWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	return &Service{pool: pool, store: store, log: log, now: now, cost: cost, audit: audit.NewRecorder(store),
		bcryptSem: make(chan struct{}, capacity), bcryptWait: wait, onBcrypt: opts.BcryptHook}
}

// clock returns the current time as PostgreSQL stores it (UTC, microseconds), so the
// values returned by a command equal the ones read back later.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// newID returns a fresh UUIDv7.
func newID() (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("new id: %w", err)
	}
	return id, nil
}

// checkActor rejects an actor that is not "user:…", "platform:…" or "system:…".
func checkActor(actor Actor) error {
	kind, rest, ok := strings.Cut(actor, ":")
	if !ok || rest == "" || (kind != "user" && kind != "platform" && kind != "system") {
		return fmt.Errorf("actor %q: want user:<id>, platform:<id> or system:<name>: %w", actor, ErrInvalid)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// appendEvent appends one event to stream inside tx.
func (s *Service) appendEvent(ctx context.Context, tx pgx.Tx, stream eventstore.StreamID, expected int64, meta eventstore.Metadata, ev eventstore.Event) error {
	if _, err := s.store.AppendTx(ctx, tx, stream, expected, eventstore.NewEvent{Data: ev, Metadata: meta}); err != nil {
		return fmt.Errorf("append %s: %w", ev.EventType(), err)
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "tenancy: event appended",
		slog.String("type", ev.EventType()), slog.String("stream", string(stream)), slog.String("actor", meta.Actor))
	return nil
}

// mapDBError turns constraint violations into the module's sentinels (naming only the
// constraint) and leaves every other error as it is.
func mapDBError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s already taken", ErrConflict, pe.ConstraintName)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %s", ErrNotFound, pe.ConstraintName)
		case "23514": // check_violation
			return fmt.Errorf("%w: %s", ErrInvalid, pe.ConstraintName)
		}
	}
	return err
}

// cleanName trims s and checks it is a non-empty single-line name of at most max runes.
func cleanName(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is empty: %w", field, ErrInvalid)
	}
	if len([]rune(s)) > max {
		return "", fmt.Errorf("%s is longer than %d characters: %w", field, max, ErrInvalid)
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("%s contains a line break or NUL: %w", field, ErrInvalid)
	}
	return s, nil
}
