package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tenantatlas/ops/eventstore"
)

// The statements of tokens.sql.
var (
	sqlUserExists        = sqlQueries.Get("UserExists")
	sqlTokenByHash       = sqlQueries.Get("TokenByHash")
	sqlInsertToken       = sqlQueries.Get("InsertToken")
	sqlLockToken         = sqlQueries.Get("LockToken")
	sqlRevokeToken       = sqlQueries.Get("RevokeToken")
	sqlAuthenticateToken = sqlQueries.Get("AuthenticateToken")
)

// TokenPrefix starts every API token; the rest is 32 to 128 characters of base64url
// (an issued token has 43: 32 random bytes).
const TokenPrefix = "atl_"

const (
	minTokenBody = 32
	maxTokenBody = 128
)

// wellFormedToken reports whether s looks like an API token: TokenPrefix followed by
// 32–128 characters of [A-Za-z0-9_-]. Anything else is refused before any lookup.
func wellFormedToken(s string) bool {
	body, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(body) < minTokenBody || len(body) > maxTokenBody {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hashToken is what the table stores and looks tokens up by.
func hashToken(plaintext string) []byte {
	h := sha256.Sum256([]byte(plaintext))
	return h[:]
}

// IssueToken issues a new API token for the user and returns its plaintext (shown once,
// never stored: the table keeps its SHA-256) and its id.
func (s *Service) IssueToken(ctx context.Context, actor Actor, userID uuid.UUID, name string) (plaintext string, tokenID uuid.UUID, err error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", uuid.Nil, fmt.Errorf("tenancy: issue token: random: %w", err)
	}
	plaintext = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	tokenID, err = s.storeToken(ctx, actor, userID, name, plaintext, false)
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("tenancy: issue token: %w", err)
	}
	return plaintext, tokenID, nil
}

// ImportToken registers a caller-chosen token for the user (the demo seed's stable
// tokens), hashed like an issued one; importing the same token for the same user again
// returns its id and changes nothing. A malformed token → ErrInvalid; a token that
// belongs to another user or was revoked → ErrConflict.
func (s *Service) ImportToken(ctx context.Context, actor Actor, userID uuid.UUID, name, plaintext string) (uuid.UUID, error) {
	if !wellFormedToken(plaintext) {
		return uuid.Nil, fmt.Errorf("tenancy: import token: want %q and %d–%d base64url characters: %w",
			TokenPrefix, minTokenBody, maxTokenBody, ErrInvalid)
	}
	id, err := s.storeToken(ctx, actor, userID, name, plaintext, true)
	if err != nil {
		return uuid.Nil, fmt.Errorf("tenancy: import token: %w", err)
	}
	return id, nil
}

// storeToken inserts the token's hash and appends APITokenIssued; when imported and the
// hash is already the user's live token it returns that token's id and changes nothing.
func (s *Service) storeToken(ctx context.Context, actor Actor, userID uuid.UUID, name, plaintext string, imported bool) (uuid.UUID, error) {
	if err := checkActor(actor); err != nil {
		return uuid.Nil, err
	}
	name, err := cleanName("token name", name, 100)
	if err != nil {
		return uuid.Nil, err
	}
	id, err := newID()
	if err != nil {
		return uuid.Nil, err
	}
	hash := hashToken(plaintext)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var userOK bool
		if err := tx.QueryRow(ctx, sqlUserExists, userID).Scan(&userOK); err != nil {
			return err
		}
		if !userOK {
			return fmt.Errorf("user %s: %w", userID, ErrNotFound)
		}
		if imported {
			var (
				existing, owner uuid.UUID
				revoked         pgtype.Timestamptz
			)
			err := tx.QueryRow(ctx, sqlTokenByHash, hash).
				Scan(&existing, &owner, &revoked)
			switch {
			case err == nil && owner == userID && !revoked.Valid:
				id = existing
				return nil
			case err == nil:
				return fmt.Errorf("token is revoked or belongs to another user: %w", ErrConflict)
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if _, err := tx.Exec(ctx, sqlInsertToken, id, userID, name, hash, s.clock()); err != nil {
			return mapDBError(err)
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamUser, userID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor},
			APITokenIssued{TokenID: id, UserID: userID, Name: name, Imported: imported}); err != nil {
			return err
		}
		e := entry(ctx, ActionTokenCreate, actor, "token:"+id.String())
		e.After = state(tokenState{UserID: userID, Name: name, Imported: imported})
		return s.audit.RecordTx(ctx, tx, e)
	})
	if err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// tokenState is the Before/After of a token's audit entry (never the token itself).
type tokenState struct {
	UserID   uuid.UUID `json:"userId"`
	Name     string    `json:"name,omitempty"`
	Imported bool      `json:"imported,omitempty"`
	Revoked  bool      `json:"revoked"`
}

// RevokeToken revokes an API token (ErrNotFound when unknown); revoking a revoked
// token again changes nothing and appends nothing.
func (s *Service) RevokeToken(ctx context.Context, actor Actor, tokenID uuid.UUID) error {
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("tenancy: revoke token: %w", err)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			userID  uuid.UUID
			revoked pgtype.Timestamptz
		)
		err := tx.QueryRow(ctx, sqlLockToken, tokenID).
			Scan(&userID, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("token %s: %w", tokenID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return nil
		}
		if _, err := tx.Exec(ctx, sqlRevokeToken, tokenID, s.clock()); err != nil {
			return err
		}
		if err := s.appendEvent(ctx, tx, eventstore.NewStreamID(StreamUser, userID), eventstore.AnyVersion,
			eventstore.Metadata{Actor: actor},
			APITokenRevoked{TokenID: tokenID, UserID: userID}); err != nil {
			return err
		}
		e := entry(ctx, ActionTokenRevoke, actor, "token:"+tokenID.String())
		e.Before, e.After = state(tokenState{UserID: userID}), state(tokenState{UserID: userID, Revoked: true})
		return s.audit.RecordTx(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("tenancy: revoke token: %w", err)
	}
	return nil
}

// AuthenticateToken returns the owner of a live API token, or ErrUnauthenticated for a
// malformed, unknown or revoked one, or one of a disabled user. The lookup is by the token's SHA-256, so no
// comparison ever runs on the secret itself.
func (s *Service) AuthenticateToken(ctx context.Context, plaintext string) (User, error) {
	if !wellFormedToken(plaintext) {
		return User{}, fmt.Errorf("tenancy: authenticate token: %w", ErrUnauthenticated)
	}
	var u User
	err := s.pool.QueryRow(ctx, sqlAuthenticateToken, hashToken(plaintext)).
		Scan(u.scanTargets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("tenancy: authenticate token: %w", ErrUnauthenticated)
	}
	if err != nil {
		return User{}, fmt.Errorf("tenancy: authenticate token: %w", err)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}
