package web

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/projections"
)

// handleHealthz answers 200 while the process runs.
func (s *Server) handleHealthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// namedChecks is what a readiness error may carry: each failed check with what was
// found (monolith.NotReadyError), so /readyz names what is stuck.
type namedChecks interface{ Checks() map[string]string }

// handleReadyz answers 200 when the database answers, sealing moves and the read models
// have caught up with the log (and are not stuck), 503 otherwise. The 503 body lists
// every check, the failed ones with what was found, and carries the usual error object:
// {"status":"not_ready","checks":{"sealing":"stuck for 41s: …"},"error":{…}}.
// With a read replica (Deps.ReplicaLag) the 200 carries its lag, "replicaLag":
// {"bytes","seconds"}, and an unreachable replica, or one that is not a standby, is a
// 503 naming the "replica" check: the hub's lists read from it.
func (s *Server) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok"}
	if s.deps.Database == nil || s.deps.Database.Ping(ctx) != nil {
		checks["database"] = "unavailable"
		return notReady(c, checks)
	}
	var lag *projections.ReplicaLag
	if s.deps.ReplicaLag != nil {
		checks["replica"] = "ok"
		l, err := s.deps.ReplicaLag(ctx)
		if err != nil {
			s.deps.Logger.Warn("read replica check failed", "error", failure.Sanitize(err.Error()))
			checks["replica"] = "unavailable"
			if errors.Is(err, projections.ErrNotReplica) {
				checks["replica"] = "not a streaming replica"
			}
			return notReady(c, checks)
		}
		lag = &l
	}
	if s.deps.Ready != nil {
		checks["sealing"], checks["projections"] = "ok", "ok"
		if err := s.deps.Ready(ctx); err != nil {
			var named namedChecks
			if !errors.As(err, &named) {
				// Not a finding but a failure to look (its text may carry SQL).
				s.deps.Logger.Warn("readiness check failed", "error", failure.Sanitize(err.Error()))
				checks["projections"] = "unknown: the check failed"
				return notReady(c, checks)
			}
			for name, finding := range named.Checks() {
				checks[name] = finding
				if strings.HasPrefix(name, "projection:") && checks["projections"] == "ok" {
					checks["projections"] = "not ready"
				}
			}
			return notReady(c, checks)
		}
	}
	answer := fiber.Map{"status": "ready", "checks": checks}
	if lag != nil {
		answer["replicaLag"] = lag // hub lists may be this far behind the primary
	}
	return c.JSON(answer)
}

// notReady answers 503 naming the checks that are not "ok".
func notReady(c *fiber.Ctx, checks map[string]string) error {
	var failed []string
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		if checks[name] != "ok" {
			failed = append(failed, name)
		}
	}
	return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "not_ready", "checks": checks,
		"error": apiErrorBody{Code: "not_ready", Message: "not ready: " + strings.Join(failed, ", ")}})
}
