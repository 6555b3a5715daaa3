package alerts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var (
	sqlClaimDue      = sqlQueries.Get("ClaimDue")
	sqlInsertAttempt = sqlQueries.Get("InsertAttempt")
	sqlFinishAttempt = sqlQueries.Get("FinishAttempt")
)

// dispatchBatch is how many due deliveries one claim takes.
const dispatchBatch = 16

// Sign returns the SignatureHeader value of body sent at t with secret:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body)>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a SignatureHeader value for body with secret, as a receiver does: the
// MAC must match and its timestamp lie within tolerance of now (older ones are replays).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, v1 string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v1 == "" {
		return errors.New("alerts: malformed signature header")
	}
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return errors.New("alerts: signature timestamp outside the tolerance")
	}
	want := Sign(secret, t, body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+v1)) {
		return errors.New("alerts: signature mismatch")
	}
	return nil
}

// claimed is a delivery this process holds for one attempt.
type claimed struct {
	id, run     uuid.UUID
	event, body string
	attempts    int
	created     time.Time
	url, secret string
}

// Dispatch makes one attempt of every due delivery and returns how many it attempted.
// Claims are short transactions (FOR UPDATE SKIP LOCKED, then a lease), so several
// processes dispatch at once without sending a delivery twice, and no transaction is
// open while a receiver answers.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	total := 0
	for {
		batch, err := s.claim(ctx)
		if err != nil || len(batch) == 0 {
			return total, err
		}
		// The batch's POSTs run at once, each bounded by Timeout, well inside the lease
		// (New keeps Lease above twice Timeout): no claim runs out while it waits its turn.
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, d := range batch {
			wg.Go(func() { errs[i] = s.attempt(ctx, d) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return total, err
		}
		total += len(batch)
		if len(batch) < dispatchBatch {
			return total, nil
		}
	}
}

func (s *Service) claim(ctx context.Context) ([]claimed, error) {
	now := s.opts.Now()
	rows, err := s.pool.Query(ctx, sqlClaimDue, now, now.Add(s.opts.Lease), dispatchBatch)
	if err != nil {
		return nil, fmt.Errorf("alerts: claim: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var d claimed
		err := r.Scan(&d.id, &d.run, &d.event, &d.body, &d.attempts, &d.created, &d.url, &d.secret)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("alerts: claim: %w", err)
	}
	return out, nil
}

// attempt POSTs one delivery and records the attempt: delivered on 2xx; otherwise a
// retry after Backoff, or given up once MaxAttempts are spent or the delivery is older
// than MaxAge.
func (s *Service) attempt(ctx context.Context, d claimed) error {
	code, class := s.post(ctx, d)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the lease ends and another attempt follows
	}
	now := s.opts.Now()
	n := d.attempts + 1
	status, next := StatusPending, now.Add(s.Backoff(n))
	var finished pgtype.Timestamptz
	switch {
	case code >= 200 && code < 300:
		status = StatusDelivered
	case n >= s.opts.MaxAttempts || now.Sub(d.created) >= s.opts.MaxAge:
		status = StatusFailed
	}
	if status != StatusPending {
		next, finished = now, pgtype.Timestamptz{Time: now, Valid: true}
	}
	var codeArg pgtype.Int4
	if code > 0 {
		codeArg = pgtype.Int4{Int32: int32(code), Valid: true}
	}
	var classArg pgtype.Text
	if class != "" {
		classArg = pgtype.Text{String: class, Valid: true}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlFinishAttempt, d.id, d.attempts, status, next, finished)
		if err != nil || tag.RowsAffected() == 0 {
			return err // a lease that ran out and was claimed again: the other claimer records
		}
		_, err = tx.Exec(ctx, sqlInsertAttempt, d.id, n, now, codeArg, classArg)
		return err
	})
	if err != nil {
		return fmt.Errorf("alerts: record attempt: %w", err)
	}
	s.log.Info("alert delivery attempt", "delivery", d.id.String(), "run", d.run.String(), "attempt", n,
		"status", status, "code", code, "error_class", class)
	return nil
}

// post sends the delivery once; it returns the receiver's status code, or 0 and the
// class of the error (never its text, which may name the URL).
func (s *Service) post(ctx context.Context, d claimed) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	body := []byte(d.body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, strings.NewReader(d.body))
	if err != nil {
		return 0, "bad_url"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "TenantAtlas-Ops-Alerts/1")
	req.Header.Set(DeliveryHeader, d.id.String())
	req.Header.Set(SignatureHeader, Sign(d.secret, time.Now(), body))
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return 0, errorClass(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return resp.StatusCode, "status"
	}
	return resp.StatusCode, ""
}

// errorClass names what kind of failure err is.
func errorClass(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection_reset"
	case errors.As(err, &dnsErr):
		return "dns"
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return "tls"
	case errors.As(err, &opErr):
		return "network"
	}
	return "error"
}
