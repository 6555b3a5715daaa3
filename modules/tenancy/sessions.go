package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/audit"
)

// Origin is where a request came from, for the audit entry of a change (empty for the CLI).
type Origin struct {
	// IP is the client address.
	IP string
	// UserAgent is the client's User-Agent header.
	UserAgent string
}

// Logout ends every hub session of the user at once (its session version goes up),
// appends UserSessionsRevoked and an auth.logout audit entry; ErrNotFound for an unknown user.
func (s *Service) Logout(ctx context.Context, userID uuid.UUID, from Origin) error {
	actor := UserActor(userID)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		version, err := bumpSessionVersion(ctx, tx, userID, sqlBumpSessionVersion, userID)
		if err != nil {
			return err
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamUser, userID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor}, UserSessionsRevoked{UserID: userID, SessionVersion: version, Reason: "logout"}); err != nil {
			return err
		}
		return s.audit.RecordTx(ctx, tx, audit.AuditRecorded{Action: ActionLogout, Outcome: "succeeded", Actor: actor,
			Target: UserActor(userID), IP: clip(from.IP, 64), UserAgent: clip(from.UserAgent, 512)})
	})
	if err != nil {
		return fmt.Errorf("tenancy: logout: %w", err)
	}
	return nil
}

// DisableUser disables the user with this email (any case): every session ends at once,
// sign-in and the user's API tokens are refused from then on. It appends UserDisabled and
// a user.disable audit entry; disabling a disabled user changes and appends nothing.
// ErrNotFound for an unknown email.
func (s *Service) DisableUser(ctx context.Context, actor Actor, email string) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, fmt.Errorf("tenancy: disable user: %w", err)
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: disable user: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		version, err := bumpSessionVersion(ctx, tx, u.ID, sqlDisableUser, u.ID, s.clock())
		if errors.Is(err, ErrNotFound) { // already disabled
			return nil
		}
		if err != nil {
			return err
		}
		u.SessionVersion, u.Disabled = version, true
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamUser, u.ID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor}, UserDisabled{UserID: u.ID, SessionVersion: version}); err != nil {
			return err
		}
		e := entry(ctx, ActionUserDisable, actor, UserActor(u.ID))
		e.Before, e.After = state(disabledState{false, version - 1}), state(disabledState{true, version})
		return s.audit.RecordTx(ctx, tx, e)
	})
	if err != nil {
		return User{}, fmt.Errorf("tenancy: disable user: %w", err)
	}
	return s.User(ctx, u.ID)
}

// SetPassword sets a new password for the user with this email (any case): the password
// rules of RegisterUser apply (ErrInvalid), every session ends at once. It appends
// UserPasswordChanged and a user.password_change audit entry, neither with the password.
// ErrNotFound for an unknown email.
func (s *Service) SetPassword(ctx context.Context, actor Actor, email, password string) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, fmt.Errorf("tenancy: set password: %w", err)
	}
	if err := checkPassword(password); err != nil {
		return User{}, fmt.Errorf("tenancy: set password: %w", err)
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: set password: %w", err)
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: set password: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlSetPasswordHash, u.ID, string(hash)); err != nil {
			return err
		}
		version, err := bumpSessionVersion(ctx, tx, u.ID, sqlBumpSessionVersion, u.ID)
		if err != nil {
			return err
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamUser, u.ID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor}, UserPasswordChanged{UserID: u.ID, SessionVersion: version}); err != nil {
			return err
		}
		e := entry(ctx, ActionUserPassword, actor, UserActor(u.ID))
		e.Before, e.After = state(sessionState{version - 1}), state(sessionState{version})
		return s.audit.RecordTx(ctx, tx, e)
	})
	if err != nil {
		return User{}, fmt.Errorf("tenancy: set password: %w", err)
	}
	return s.User(ctx, u.ID)
}

// disabledState is the Before/After of disabling a user: the flag and the session version.
type disabledState struct {
	Disabled       bool  `json:"disabled"`
	SessionVersion int64 `json:"sessionVersion"`
}

// sessionState is the Before/After of a change that ends every session.
type sessionState struct {
	SessionVersion int64 `json:"sessionVersion"`
}

// bumpSessionVersion runs query, BumpSessionVersion or DisableUser of users.sql, which
// raises the session version of user id (DisableUser also marks it disabled, unless it
// already is) and returns the new one; ErrNotFound when no row matches.
func bumpSessionVersion(ctx context.Context, tx pgx.Tx, id uuid.UUID, query string, args ...any) (int64, error) {
	var version int64
	err := tx.QueryRow(ctx, query, args...).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return version, nil
}
