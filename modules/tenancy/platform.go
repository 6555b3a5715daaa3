package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
)

// The statements of platform.sql.
var (
	sqlInsertPlatformUser          = sqlQueries.Get("InsertPlatformUser")
	sqlPlatformUserByID            = sqlQueries.Get("PlatformUserByID")
	sqlPlatformUserByEmail         = sqlQueries.Get("PlatformUserByEmail")
	sqlPlatformUserPasswordByEmail = sqlQueries.Get("PlatformUserPasswordByEmail")
	sqlBumpPlatformSessionVersion  = sqlQueries.Get("BumpPlatformSessionVersion")
	sqlDisablePlatformUser         = sqlQueries.Get("DisablePlatformUser")
)

// PlatformCapability is what a platform user may do in /system. The set is closed
// (PlatformCapabilities); the table's CHECK constraint lists the same values.
type PlatformCapability string

// The platform capabilities (spec 113).
const (
	// PlatformOpsView opens /system and its run history.
	PlatformOpsView PlatformCapability = "platform.ops.view"
	// PlatformRunbooksView shows the runbook catalog and runs preflights.
	PlatformRunbooksView PlatformCapability = "platform.runbooks.view"
	// PlatformRunbooksRun starts runbooks.
	PlatformRunbooksRun PlatformCapability = "platform.runbooks.run"
	// PlatformFindingsLifecycleBackfill starts the findings.lifecycle.backfill runbook.
	PlatformFindingsLifecycleBackfill PlatformCapability = "platform.runbooks.findings.lifecycle_backfill"
)

// PlatformCapabilities returns every platform capability, in a fixed order.
func PlatformCapabilities() []PlatformCapability {
	return []PlatformCapability{PlatformOpsView, PlatformRunbooksView, PlatformRunbooksRun, PlatformFindingsLifecycleBackfill}
}

// ParsePlatformCapability returns the capability named s, or false for any other string.
func ParsePlatformCapability(s string) (PlatformCapability, bool) {
	c := PlatformCapability(s)
	return c, slices.Contains(PlatformCapabilities(), c)
}

// Audit actions of the /system panel's sign-in and platform user administration.
const (
	// ActionPlatformLogin is the audit action of a /system sign-in attempt.
	ActionPlatformLogin = "platform.auth.login"
	// ActionPlatformLogout is the audit action of a /system sign-out.
	ActionPlatformLogout = "platform.auth.logout"
	// ActionPlatformUserCreate is the audit action of creating a platform user.
	ActionPlatformUserCreate = "platform.user.create"
	// ActionPlatformUserDisable is the audit action of disabling a platform user.
	ActionPlatformUserDisable = "platform.user.disable"
)

// PlatformThrottlePrefix starts the sign-in throttle keys of /system
// ("system:<address>|<email>"), apart from the hub's "ip:" and "email:" keys.
const PlatformThrottlePrefix = "system:"

// PlatformActor returns the actor string of a platform user.
func PlatformActor(id uuid.UUID) Actor { return "platform:" + id.String() }

// PlatformUser is an operator of the /system panel: not a workspace user, no membership,
// no API token; what it may do is its capabilities.
type PlatformUser struct {
	// ID is the platform user id (UUIDv7).
	ID uuid.UUID
	// Email is lower-case and unique among platform users.
	Email string
	// Name is the name shown in /system.
	Name string
	// Capabilities are the platform capabilities, sorted, without duplicates.
	Capabilities []PlatformCapability
	// BreakGlass marks an emergency account: it must give a reason for every run, and
	// the flag is recorded on the run and its audit entries.
	BreakGlass bool
	// CreatedAt is when the user was created.
	CreatedAt time.Time
	// SessionVersion is carried by every /system session and checked on each request;
	// logout and disabling raise it, which ends every session at once.
	SessionVersion int64
	// Disabled is true once the user is disabled: no sign-in, no session.
	Disabled bool
}

// Can reports whether the user has the capability (a disabled user has none).
func (u PlatformUser) Can(c PlatformCapability) bool {
	return !u.Disabled && slices.Contains(u.Capabilities, c)
}

// NewPlatformUser is what CreatePlatformUser needs.
type NewPlatformUser struct {
	// Email is the sign-in address (trimmed and lower-cased).
	Email string
	// Name is the display name; empty means the email.
	Name string
	// Password follows the rules of RegisterUser (MinPasswordLength, MaxPasswordBytes).
	Password string
	// Capabilities are granted as given (duplicates dropped); an unknown one is ErrInvalid.
	Capabilities []PlatformCapability
	// BreakGlass flags an emergency account.
	BreakGlass bool
}

// PlatformUserCreated records a new platform user (stream platformuser-<id>); the
// password is not recorded.
type PlatformUserCreated struct {
	// UserID is the new platform user's id.
	UserID uuid.UUID `json:"userId"`
	// Email is the normalized email.
	Email string `json:"email"`
	// Name is the display name.
	Name string `json:"name"`
	// Capabilities are the granted capabilities.
	Capabilities []PlatformCapability `json:"capabilities"`
	// BreakGlass is the break-glass flag.
	BreakGlass bool `json:"breakGlass"`
}

// EventType implements eventstore.Event.
func (PlatformUserCreated) EventType() string { return "PlatformUserCreated" }

// PlatformUserSessionsRevoked records every /system session of a platform user ended
// (stream platformuser-<id>), on logout.
type PlatformUserSessionsRevoked struct {
	// UserID is the platform user.
	UserID uuid.UUID `json:"userId"`
	// SessionVersion is the new session version.
	SessionVersion int64 `json:"sessionVersion"`
	// Reason says why, e.g. "logout".
	Reason string `json:"reason"`
}

// EventType implements eventstore.Event.
func (PlatformUserSessionsRevoked) EventType() string { return "PlatformUserSessionsRevoked" }

// PlatformUserDisabled records a platform user disabled (stream platformuser-<id>):
// every session ended, sign-in refused from then on.
type PlatformUserDisabled struct {
	// UserID is the platform user.
	UserID uuid.UUID `json:"userId"`
	// SessionVersion is the new session version.
	SessionVersion int64 `json:"sessionVersion"`
}

// EventType implements eventstore.Event.
func (PlatformUserDisabled) EventType() string { return "PlatformUserDisabled" }

// CreatePlatformUser creates a platform user with a bcrypt-hashed password: the email is
// lower-cased and unique among platform users (ErrConflict); the password rules of
// RegisterUser and a known capability set apply (ErrInvalid). It appends
// PlatformUserCreated and a platform.user.create audit entry in one transaction.
func (s *Service) CreatePlatformUser(ctx context.Context, actor Actor, n NewPlatformUser) (PlatformUser, error) {
	u, hash, err := s.newPlatformUser(ctx, actor, n)
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: create platform user: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		caps := make([]string, len(u.Capabilities))
		for i, c := range u.Capabilities {
			caps[i] = string(c)
		}
		if _, err := tx.Exec(ctx, sqlInsertPlatformUser, u.ID, u.Email, u.Name, string(hash), caps, u.BreakGlass, u.CreatedAt); err != nil {
			return mapDBError(err)
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamPlatformUser, u.ID), eventstore.NoStream,
			eventstore.Metadata{Actor: actor}, PlatformUserCreated{UserID: u.ID, Email: u.Email, Name: u.Name,
				Capabilities: u.Capabilities, BreakGlass: u.BreakGlass}); err != nil {
			return err
		}
		e := entry(ctx, ActionPlatformUserCreate, actor, PlatformActor(u.ID))
		e.After = state(struct {
			Email        string               `json:"email"`
			Capabilities []PlatformCapability `json:"capabilities"`
			BreakGlass   bool                 `json:"breakGlass"`
		}{u.Email, u.Capabilities, u.BreakGlass})
		return s.audit.RecordTx(ctx, tx, e)
	})
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: create platform user: %w", err)
	}
	return u, nil
}

// newPlatformUser checks n and hashes its password (before any transaction: bcrypt is
// slow on purpose).
func (s *Service) newPlatformUser(ctx context.Context, actor Actor, n NewPlatformUser) (PlatformUser, []byte, error) {
	if err := checkActor(actor); err != nil {
		return PlatformUser{}, nil, err
	}
	email, err := normalizeEmail(n.Email)
	if err != nil {
		return PlatformUser{}, nil, err
	}
	if n.Name == "" {
		n.Name = email
	}
	name, err := cleanName("name", n.Name, 200)
	if err != nil {
		return PlatformUser{}, nil, err
	}
	caps := []PlatformCapability{}
	for _, c := range n.Capabilities {
		if _, ok := ParsePlatformCapability(string(c)); !ok {
			return PlatformUser{}, nil, fmt.Errorf("unknown platform capability %q: %w", c, ErrInvalid)
		}
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	slices.Sort(caps)
	if err := checkPassword(n.Password); err != nil {
		return PlatformUser{}, nil, err
	}
	hash, err := s.hashPassword(ctx, n.Password)
	if err != nil {
		return PlatformUser{}, nil, err
	}
	id, err := newID()
	if err != nil {
		return PlatformUser{}, nil, err
	}
	return PlatformUser{ID: id, Email: email, Name: name, Capabilities: caps, BreakGlass: n.BreakGlass,
		CreatedAt: s.clock(), SessionVersion: 1}, hash, nil
}

// PlatformUser returns the platform user with the given id, or ErrNotFound.
func (s *Service) PlatformUser(ctx context.Context, id uuid.UUID) (PlatformUser, error) {
	return s.platformUserWhere(ctx, sqlPlatformUserByID, id)
}

// PlatformUserByEmail returns the platform user with the given email (any case), or
// ErrNotFound.
func (s *Service) PlatformUserByEmail(ctx context.Context, email string) (PlatformUser, error) {
	e, err := normalizeEmail(email)
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: platform user by email: %w", ErrNotFound)
	}
	return s.platformUserWhere(ctx, sqlPlatformUserByEmail, e)
}

func (s *Service) platformUserWhere(ctx context.Context, query string, arg any) (PlatformUser, error) {
	var u PlatformUser
	err := s.pool.QueryRow(ctx, query, arg).Scan(u.scanTargets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return PlatformUser{}, fmt.Errorf("tenancy: platform user %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: platform user %v: %w", arg, err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// scanTargets are the Scan destinations of the columns platform.sql lists, then extra.
func (u *PlatformUser) scanTargets(extra ...any) []any {
	return append([]any{&u.ID, &u.Email, &u.Name, &u.Capabilities, &u.BreakGlass, &u.CreatedAt, &u.SessionVersion,
		&u.Disabled}, extra...)
}

// PlatformLogin checks a /system sign-in attempt. It is throttled per client address and
// email together (one key, PlatformThrottlePrefix + "<address>|<email>": LoginFailureLimit
// failures per LoginFailureWindow, counted before bcrypt runs and given back on success,
// in the hub's tn_login_throttle), bcrypt runs under the service's cap, and every outcome
// is a platform.auth.login audit entry (actor, attempted email, address, user agent;
// never the password; a limited key's refusals once per window). Errors as Login's:
// ErrUnauthenticated, *RateLimitedError, ErrBusy or an internal error.
func (s *Service) PlatformLogin(ctx context.Context, a LoginAttempt) (PlatformUser, error) {
	email := attemptedEmail(a.Email)
	ip := clip(a.IP, 64)
	keys := []string{PlatformThrottlePrefix + ip + "|" + email}
	entry := audit.AuditRecorded{Action: ActionPlatformLogin, Actor: SystemActor("platform-login"), Target: "email:" + email,
		IP: ip, UserAgent: clip(a.UserAgent, 512)}

	res, err := s.reserveLogin(ctx, keys)
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: platform login: %w", err)
	}
	if res.limited {
		platformLoginAttempts.WithLabelValues(LoginRateLimited).Inc()
		if res.firstRefusal {
			entry.Outcome, entry.Reason = "failed", LoginRateLimited
			s.recordLogin(ctx, entry)
		}
		return PlatformUser{}, &RateLimitedError{RetryAfter: res.retryAfter}
	}
	var (
		u      PlatformUser
		stored string
		found  = true
	)
	if _, err := normalizeEmail(email); err != nil {
		found = false
	} else if err := s.pool.QueryRow(ctx, sqlPlatformUserPasswordByEmail, email).Scan(u.scanTargets(&stored)...); errors.Is(err, pgx.ErrNoRows) {
		found = false
	} else if err != nil {
		s.refundLogin(ctx, keys)
		return PlatformUser{}, fmt.Errorf("tenancy: platform login: %w", err)
	}
	hash := []byte(stored)
	if !found {
		if hash, err = s.dummy(); err != nil {
			s.refundLogin(ctx, keys)
			return PlatformUser{}, fmt.Errorf("tenancy: platform login: %w", err)
		}
	}
	match, err := s.comparePassword(ctx, s.bcryptWait, hash, a.Password)
	if err != nil {
		s.refundLogin(ctx, keys)
		if errors.Is(err, ErrBusy) {
			platformLoginAttempts.WithLabelValues("busy").Inc()
		}
		return PlatformUser{}, fmt.Errorf("tenancy: platform login: %w", err)
	}
	entry.Outcome = "failed"
	switch {
	case !found:
		entry.Reason = LoginUnknownUser
	case !match:
		entry.Actor, entry.Reason = PlatformActor(u.ID), LoginBadPassword
	case u.Disabled:
		entry.Actor, entry.Reason = PlatformActor(u.ID), LoginDisabled
	default:
		s.refundLogin(ctx, keys)
		entry.Actor, entry.Outcome = PlatformActor(u.ID), "succeeded"
		platformLoginAttempts.WithLabelValues("succeeded").Inc()
		if err := s.audit.Record(ctx, entry); err != nil {
			return PlatformUser{}, fmt.Errorf("tenancy: platform login: %w", err) // not audited, not signed in
		}
		u.CreatedAt = u.CreatedAt.UTC()
		return u, nil
	}
	platformLoginAttempts.WithLabelValues(entry.Reason).Inc()
	s.recordLogin(ctx, entry)
	return PlatformUser{}, fmt.Errorf("tenancy: platform login: %w", ErrUnauthenticated)
}

// PlatformLogout ends every /system session of the platform user at once (its session
// version goes up), appends PlatformUserSessionsRevoked and a platform.auth.logout audit
// entry; ErrNotFound for an unknown user.
func (s *Service) PlatformLogout(ctx context.Context, id uuid.UUID, from Origin) error {
	actor := PlatformActor(id)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		version, err := bumpSessionVersion(ctx, tx, id, sqlBumpPlatformSessionVersion, id)
		if err != nil {
			return err
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamPlatformUser, id), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor}, PlatformUserSessionsRevoked{UserID: id, SessionVersion: version, Reason: "logout"}); err != nil {
			return err
		}
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: ActionPlatformLogout, Outcome: "succeeded", Actor: actor,
			Target: actor, IP: clip(from.IP, 64), UserAgent: clip(from.UserAgent, 512)})
	})
	if err != nil {
		return fmt.Errorf("tenancy: platform logout: %w", err)
	}
	return nil
}

// DisablePlatformUser disables the platform user with this email (any case): every
// session ends at once and sign-in is refused from then on. It appends
// PlatformUserDisabled and a platform.user.disable audit entry; disabling a disabled user
// changes and appends nothing. ErrNotFound for an unknown email.
func (s *Service) DisablePlatformUser(ctx context.Context, actor Actor, email string) (PlatformUser, error) {
	if err := checkActor(actor); err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: disable platform user: %w", err)
	}
	u, err := s.PlatformUserByEmail(ctx, email)
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: disable platform user: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		version, err := bumpSessionVersion(ctx, tx, u.ID, sqlDisablePlatformUser, u.ID, s.clock())
		if errors.Is(err, ErrNotFound) { // already disabled
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamPlatformUser, u.ID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor}, PlatformUserDisabled{UserID: u.ID, SessionVersion: version}); err != nil {
			return err
		}
		e := entry(ctx, ActionPlatformUserDisable, actor, PlatformActor(u.ID))
		e.Before, e.After = state(disabledState{false, version - 1}), state(disabledState{true, version})
		return s.audit.RecordTx(ctx, tx, e)
	})
	if err != nil {
		return PlatformUser{}, fmt.Errorf("tenancy: disable platform user: %w", err)
	}
	return s.PlatformUser(ctx, u.ID)
}
