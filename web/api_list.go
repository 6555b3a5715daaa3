package web

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/projections"
)

// handleAPIRuns lists the runs the caller may see, newest first, with filters
// tenant, type, bucket, since, until and keyset pagination (cursor, limit).
func (s *Server) handleAPIRuns(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := projections.RunFilter{Type: c.Query("type")}
	var err error
	if f.Limit, err = queryLimit(c, 50); err != nil {
		return err
	}
	if f.Cursor, err = queryCursor(c, "invalid cursor"); err != nil {
		return err
	}
	if f.Tenant, err = queryUUID(c, "tenant", fiber.StatusUnprocessableEntity); err != nil {
		return err
	}
	if v := c.Query("bucket"); v != "" {
		b, err := operations.ParseBucket(v)
		if err != nil {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "bucket must be one of queued, running, succeeded, partially_succeeded, failed")
		}
		f.Bucket = b
	}
	if f.Type != "" {
		if _, ok := operations.LookupType(f.Type); !ok {
			return fiber.NewError(fiber.StatusUnprocessableEntity, "unknown operation type")
		}
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if *dst, err = queryTime(c, name, time.RFC3339, name+" must be an RFC 3339 time"); err != nil {
			return err
		}
	}
	if err := s.restrictToVisible(c, &f); err != nil {
		return err
	}
	runs, next, err := s.deps.Runs.List(ctx, f)
	if errors.Is(err, projections.ErrBadCursor) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "invalid cursor")
	}
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []projections.RunSummary{}
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"runs": runs, "nextCursor": cursor})
}
