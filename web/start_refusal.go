package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// startRefusal maps a start the deployment cannot serve to its reason code and the
// operator's words: a type no worker runs (operations.ErrTypeUnavailable) or a type
// started from its own page, not from this surface (operations.ErrSurfaceNotAllowed).
// Both answer 422 and record nothing.
func startRefusal(err error) (failure.Code, string, bool) {
	var code failure.Code
	switch {
	case errors.Is(err, operations.ErrTypeUnavailable):
		code = failure.OperationTypeUnavailable
	case errors.Is(err, operations.ErrSurfaceNotAllowed):
		code = failure.StartSurfaceNotAllowed
	default:
		return "", "", false
	}
	label, next := failure.Info(code)
	return code, label + ". " + next, true
}

// handleStartRefusal answers a refused start: {"error":{"code":<reason code>,…}} on the
// API, the error page (422) in the hub. It reports false for any other error.
func (s *Server) handleStartRefusal(c *fiber.Ctx, err error) (bool, error) {
	code, msg, ok := startRefusal(err)
	if !ok {
		return false, nil
	}
	if strings.HasPrefix(c.Path(), "/admin") {
		return true, s.renderError(c, fiber.NewError(fiber.StatusUnprocessableEntity, msg))
	}
	return true, c.Status(fiber.StatusUnprocessableEntity).JSON(apiError{Error: apiErrorBody{Code: string(code), Message: msg}})
}
