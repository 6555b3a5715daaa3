package tenancy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/modules/audit"
)

// The statements of login.sql (the throttle).
var (
	sqlSweepLoginThrottle      = sqlQueries.Get("SweepLoginThrottle")
	sqlInsertLoginThrottleKeys = sqlQueries.Get("InsertLoginThrottleKeys")
	sqlLockLoginThrottleKeys   = sqlQueries.Get("LockLoginThrottleKeys")
	sqlUpdateLoginThrottle     = sqlQueries.Get("UpdateLoginThrottle")
	sqlRefundLoginThrottle     = sqlQueries.Get("RefundLoginThrottle")
)

// Sign-in throttling: each client address and each account (normalized email) may fail
// LoginFailureLimit times in a window of LoginFailureWindow starting at its first failure;
// further attempts are refused without running bcrypt until the window has passed.
const (
	// LoginFailureLimit is the number of failed sign-ins a key may have per window.
	LoginFailureLimit = 10
	// LoginFailureWindow is the length of a key's throttling window.
	LoginFailureWindow = time.Minute
)

// Audit actions and reasons of sign-in, sign-out and user administration.
const (
	// ActionLogin is the audit action of a sign-in attempt (outcome succeeded or failed).
	ActionLogin = "auth.login"
	// ActionLogout is the audit action of a sign-out.
	ActionLogout = "auth.logout"
	// ActionUserDisable is the audit action of disabling a user.
	ActionUserDisable = "user.disable"
	// ActionUserPassword is the audit action of setting a user's password.
	ActionUserPassword = "user.password_change"

	// LoginUnknownUser is the reason of a failed sign-in for an email no user has.
	LoginUnknownUser = "unknown_user"
	// LoginBadPassword is the reason of a failed sign-in with a wrong password.
	LoginBadPassword = "bad_password"
	// LoginDisabled is the reason of a failed sign-in of a disabled user (right password).
	LoginDisabled = "disabled"
	// LoginRateLimited is the reason of a sign-in refused by the throttle.
	LoginRateLimited = "rate_limited"
)

// ErrRateLimited means too many sign-ins failed for the client address or the account;
// the error is a *RateLimitedError telling when to try again.
var ErrRateLimited = errors.New("tenancy: too many failed sign-ins")

// ErrBusy means the password-checking capacity stayed full for the whole wait.
var ErrBusy = errors.New("tenancy: too many sign-ins in progress")

// RateLimitedError is a sign-in refused by the throttle; errors.Is(err, ErrRateLimited).
type RateLimitedError struct {
	// RetryAfter is how long until the fullest window frees (at least one second).
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: retry after %d s", ErrRateLimited.Error(), int(e.RetryAfter/time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

var loginAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "atlas_login_attempts_total",
	Help: "Hub sign-in attempts by outcome: succeeded, unknown_user, bad_password, disabled, rate_limited, busy.",
}, []string{"outcome"})

var platformLoginAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "atlas_platform_login_attempts_total",
	Help: "/system sign-in attempts by outcome: succeeded, unknown_user, bad_password, disabled, rate_limited, busy.",
}, []string{"outcome"})

// LoginAttempts is the counters of sign-in attempts by outcome, the hub's
// (atlas_login_attempts_total) and /system's (atlas_platform_login_attempts_total), for
// registering with a registry.
func LoginAttempts() prometheus.Collector { return collectors{loginAttempts, platformLoginAttempts} }

// collectors is several collectors registered as one.
type collectors []prometheus.Collector

// Describe implements prometheus.Collector.
func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}

// LoginAttempt is one sign-in: the credentials and where the request came from.
type LoginAttempt struct {
	// Email is the address as typed (it is trimmed and lower-cased here).
	Email string
	// Password is the password as typed; it is never recorded.
	Password string
	// IP is the client address (the proxy-aware one the web layer determined).
	IP string
	// UserAgent is the client's User-Agent header.
	UserAgent string
}

// Login checks a sign-in attempt: throttled per client address and per account, bcrypt
// bounded by the service's concurrency cap, and every outcome recorded as an audit event
// (never the password). It returns the user, or an error that is ErrUnauthenticated
// (unknown email, wrong password or disabled user alike), a *RateLimitedError (bcrypt did
// not run), ErrBusy (the cap stayed full for Options.BcryptWait) or an internal error.
func (s *Service) Login(ctx context.Context, a LoginAttempt) (User, error) {
	email := attemptedEmail(a.Email)
	ip := clip(a.IP, 64)
	keys := []string{"email:" + email, "ip:" + ip}
	entry := audit.AuditRecorded{Action: ActionLogin, Actor: SystemActor("login"), Target: "email:" + email,
		IP: ip, UserAgent: clip(a.UserAgent, 512)}

	res, err := s.reserveLogin(ctx, keys)
	if err != nil {
		return User{}, fmt.Errorf("tenancy: login: %w", err)
	}
	if res.limited {
		// One audit entry per key and window: a flood of refused requests must not
		// become a flood of events; later refusals are only counted.
		loginAttempts.WithLabelValues(LoginRateLimited).Inc()
		if res.firstRefusal {
			entry.Outcome, entry.Reason = "failed", LoginRateLimited
			s.recordLogin(ctx, entry)
		}
		return User{}, &RateLimitedError{RetryAfter: res.retryAfter}
	}

	u, stored, found, err := s.passwordRow(ctx, email)
	if err != nil {
		s.refundLogin(ctx, keys)
		return User{}, fmt.Errorf("tenancy: login: %w", err)
	}
	hash := stored
	if !found {
		if hash, err = s.dummy(); err != nil {
			s.refundLogin(ctx, keys)
			return User{}, fmt.Errorf("tenancy: login: %w", err)
		}
	}
	match, err := s.comparePassword(ctx, s.bcryptWait, hash, a.Password)
	if err != nil {
		s.refundLogin(ctx, keys)
		if errors.Is(err, ErrBusy) {
			loginAttempts.WithLabelValues("busy").Inc()
		}
		return User{}, fmt.Errorf("tenancy: login: %w", err)
	}
	entry.Outcome = "failed"
	switch {
	case !found:
		entry.Reason = LoginUnknownUser
	case !match:
		entry.Actor, entry.Reason = UserActor(u.ID), LoginBadPassword
	case u.Disabled:
		entry.Actor, entry.Reason = UserActor(u.ID), LoginDisabled
	default:
		s.refundLogin(ctx, keys)
		entry.Actor, entry.Outcome = UserActor(u.ID), "succeeded"
		loginAttempts.WithLabelValues("succeeded").Inc()
		if err := s.audit.Record(ctx, entry); err != nil {
			// A sign-in that cannot be audited does not happen.
			return User{}, fmt.Errorf("tenancy: login: %w", err)
		}
		return u, nil
	}
	loginAttempts.WithLabelValues(entry.Reason).Inc()
	s.recordLogin(ctx, entry)
	return User{}, fmt.Errorf("tenancy: login: %w", ErrUnauthenticated)
}

// recordLogin appends a failed sign-in's audit entry; a failure to do so is logged, the
// attempt is refused either way.
func (s *Service) recordLogin(ctx context.Context, e audit.AuditRecorded) {
	if err := s.audit.Record(ctx, e); err != nil {
		s.log.Error("tenancy: audit of a failed sign-in not recorded", "reason", e.Reason, "error", err.Error())
	}
}

// attemptedEmail is the typed email as the throttle and the audit entry key it: trimmed,
// lower-cased, without control characters, at most 254 bytes.
func attemptedEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return clip(s, 254)
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// reservation is the throttle's answer to one attempt.
type reservation struct {
	limited      bool
	firstRefusal bool
	retryAfter   time.Duration
}

// reserveLogin counts an attempt against every key in one transaction (rows locked in key
// order), before any password is checked: when a key is at its limit nothing is counted
// against the others and the attempt is refused; otherwise every key's failure count goes
// up by one (refunded by refundLogin when the attempt succeeds). Counting before bcrypt
// keeps the limit exact under concurrent attempts. Rows of passed windows are swept here.
func (s *Service) reserveLogin(ctx context.Context, keys []string) (reservation, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	now := s.clock()
	cut := now.Add(-LoginFailureWindow)
	var res reservation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlSweepLoginThrottle, cut, keys); err != nil {
			return fmt.Errorf("sweep throttle: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlInsertLoginThrottleKeys, keys, now); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
		rows, err := tx.Query(ctx, sqlLockLoginThrottleKeys, keys)
		if err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
		type row struct {
			key               string
			start             time.Time
			failures, refused int32
			limited           bool
		}
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.key, &r.start, &r.failures, &r.refused); err != nil {
				rows.Close()
				return fmt.Errorf("throttle: %w", err)
			}
			if !r.start.After(cut) { // the window has passed: a fresh one
				r.start, r.failures, r.refused = now, 0, 0
			}
			r.limited = r.failures >= LoginFailureLimit
			res.limited = res.limited || r.limited
			rs = append(rs, r)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
		var (
			ks     []string
			starts []time.Time
			fs, rf []int32
		)
		for _, r := range rs {
			switch {
			case !res.limited:
				r.failures++
			case r.limited:
				if r.refused == 0 {
					res.firstRefusal = true
				}
				if r.refused < math.MaxInt32 {
					r.refused++
				}
				res.retryAfter = max(res.retryAfter, r.start.Add(LoginFailureWindow).Sub(now))
			}
			ks, starts, fs, rf = append(ks, r.key), append(starts, r.start), append(fs, r.failures), append(rf, r.refused)
		}
		_, err = tx.Exec(ctx, sqlUpdateLoginThrottle, ks, starts, fs, rf)
		if err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
		return nil
	})
	if err != nil {
		return reservation{}, err
	}
	// Retry-After is whole seconds, rounded up: asking again then finds the window gone.
	res.retryAfter = time.Duration(max(1, math.Ceil(res.retryAfter.Seconds()))) * time.Second
	return res, nil
}

// refundLogin takes back the failure reserveLogin counted, for an attempt that succeeded
// or never got to check a password.
func (s *Service) refundLogin(ctx context.Context, keys []string) {
	// A refund must happen even when the request was cancelled meanwhile.
	ctx = context.WithoutCancel(ctx)
	if _, err := s.pool.Exec(ctx, sqlRefundLoginThrottle, keys); err != nil {
		s.log.Error("tenancy: sign-in throttle refund failed", "error", err.Error())
	}
}

// passwordRow reads the user with this normalized email and the password hash.
func (s *Service) passwordRow(ctx context.Context, email string) (User, []byte, bool, error) {
	if _, err := normalizeEmail(email); err != nil {
		return User{}, nil, false, nil
	}
	var (
		u      User
		stored string
	)
	err := s.pool.QueryRow(ctx, sqlUserPasswordByEmail, email).
		Scan(u.scanTargets(&stored)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, nil, false, nil
	}
	if err != nil {
		return User{}, nil, false, err
	}
	u.normalize()
	return u, []byte(stored), true, nil
}

// acquireBcrypt takes a slot of the bcrypt concurrency cap, waiting at most wait (0:
// until ctx ends) before giving up with ErrBusy.
func (s *Service) acquireBcrypt(ctx context.Context, wait time.Duration) error {
	select {
	case s.bcryptSem <- struct{}{}:
		return nil
	default:
	}
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case s.bcryptSem <- struct{}{}:
		return nil
	case <-timeout:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

// releaseBcrypt frees the slot acquireBcrypt took.
func (s *Service) releaseBcrypt() { <-s.bcryptSem }

// comparePassword runs bcrypt under the concurrency cap and reports whether password
// matches hash.
func (s *Service) comparePassword(ctx context.Context, wait time.Duration, hash []byte, password string) (bool, error) {
	if err := s.acquireBcrypt(ctx, wait); err != nil {
		return false, err
	}
	defer s.releaseBcrypt()
	s.bcryptHook(1)
	defer s.bcryptHook(-1)
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
}

// hashPassword runs bcrypt's key derivation under the concurrency cap (waiting as long as
// ctx allows).
func (s *Service) hashPassword(ctx context.Context, password string) ([]byte, error) {
	if err := s.acquireBcrypt(ctx, 0); err != nil {
		return nil, err
	}
	defer s.releaseBcrypt()
	s.bcryptHook(1)
	defer s.bcryptHook(-1)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// bcryptHook calls Options.BcryptHook, if set.
func (s *Service) bcryptHook(delta int) {
	if s.onBcrypt != nil {
		s.onBcrypt(delta)
	}
}
