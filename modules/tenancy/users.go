package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore"
)

// The statements of users.sql.
var (
	sqlInsertUser          = sqlQueries.Get("InsertUser")
	sqlUserByID            = sqlQueries.Get("UserByID")
	sqlUserByEmail         = sqlQueries.Get("UserByEmail")
	sqlUserPasswordByEmail = sqlQueries.Get("UserPasswordByEmail")
	sqlSetPasswordHash     = sqlQueries.Get("SetPasswordHash")
	sqlBumpSessionVersion  = sqlQueries.Get("BumpSessionVersion")
	sqlDisableUser         = sqlQueries.Get("DisableUser")
)

// Password rules: at least MinPasswordLength characters, and at most 72 bytes, which
// is all bcrypt looks at (a longer one would be silently truncated, so it is refused).
const (
	// MinPasswordLength is the minimum number of characters (runes) of a password.
	MinPasswordLength = 12
	// MaxPasswordBytes is the maximum length of a password in bytes.
	MaxPasswordBytes = 72
)

// normalizeEmail trims and lower-cases email and checks it is a bare address.
func normalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > 254 {
		return "", fmt.Errorf("email: %w", ErrInvalid)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", fmt.Errorf("email is not a plain address: %w", ErrInvalid)
	}
	return e, nil
}

// RegisterUser registers a user with a bcrypt-hashed password: the email is
// lower-cased and unique (ErrConflict), the password at least 12 characters (ErrInvalid).
func (s *Service) RegisterUser(ctx context.Context, actor Actor, email, displayName, password string) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	email, err := normalizeEmail(email)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	displayName, err = cleanName("display name", displayName, 200)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	if err := checkPassword(password); err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	// Hash before the transaction: bcrypt is slow on purpose and holds no lock.
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	id, err := newID()
	if err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	u := User{ID: id, Email: email, DisplayName: displayName, CreatedAt: s.clock(), SessionVersion: 1}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlInsertUser, u.ID, u.Email, u.DisplayName, string(hash), u.CreatedAt); err != nil {
			return mapDBError(err)
		}
		return s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamUser, u.ID), eventstore.NoStream,
			eventstore.Metadata{Actor: actor},
			UserRegistered{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName})
	})
	if err != nil {
		return User{}, fmt.Errorf("tenancy: register user: %w", err)
	}
	return u, nil
}

// dummy returns a bcrypt hash at the service's cost, compared against when the email
// is unknown so that a miss takes as long as a wrong password.
func (s *Service) dummy() ([]byte, error) {
	s.dummyOnce.Do(func() {
		s.dummyHash, s.dummyErr = bcrypt.GenerateFromPassword([]byte("tenancy: no such user, timing only"), s.cost)
	})
	return s.dummyHash, s.dummyErr
}

// checkPassword enforces the password rules (MinPasswordLength, MaxPasswordBytes).
func checkPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Errorf("password shorter than %d characters: %w", MinPasswordLength, ErrInvalid)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("password longer than %d bytes: %w", MaxPasswordBytes, ErrInvalid)
	}
	return nil
}

// AuthenticatePassword returns the user with this email and password, or
// ErrUnauthenticated (a disabled user too); bcrypt runs for unknown emails too, so timing
// reveals nothing. It neither throttles nor audits: the hub signs in through Login.
func (s *Service) AuthenticatePassword(ctx context.Context, email, password string) (User, error) {
	dummy, err := s.dummy()
	if err != nil {
		return User{}, fmt.Errorf("tenancy: authenticate: %w", err)
	}
	e := attemptedEmail(email)
	u, stored, found, err := s.passwordRow(ctx, e)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: authenticate: %w", err)
	}
	hash := dummy
	if found {
		hash = stored
	}
	match, err := s.comparePassword(ctx, s.bcryptWait, hash, password)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: authenticate: %w", err)
	}
	if !match || !found || u.Disabled {
		return User{}, fmt.Errorf("tenancy: authenticate: %w", ErrUnauthenticated)
	}
	return u, nil
}

// User returns the user with the given id, or ErrNotFound.
func (s *Service) User(ctx context.Context, id uuid.UUID) (User, error) {
	return s.userWhere(ctx, sqlUserByID, id)
}

// UserByEmail returns the user with the given email (any case), or ErrNotFound.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	e, err := normalizeEmail(email)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: user by email: %w", ErrNotFound)
	}
	return s.userWhere(ctx, sqlUserByEmail, e)
}

// userWhere reads the one user query (UserByID or UserByEmail) finds by arg.
func (s *Service) userWhere(ctx context.Context, query string, arg any) (User, error) {
	var u User
	err := s.pool.QueryRow(ctx, query, arg).Scan(u.scanTargets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("tenancy: user %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("tenancy: user %v: %w", arg, err)
	}
	u.normalize()
	return u, nil
}

// scanTargets are the Scan destinations of the user columns users.sql lists (id, email,
// display_name, created_at, session_version, disabled_at IS NOT NULL), followed by extra.
func (u *User) scanTargets(extra ...any) []any {
	return append([]any{&u.ID, &u.Email, &u.DisplayName, &u.CreatedAt, &u.SessionVersion, &u.Disabled}, extra...)
}

// normalize puts a scanned user's times in UTC.
func (u *User) normalize() { u.CreatedAt = u.CreatedAt.UTC() }
