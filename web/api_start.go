package web

import (
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// startBody is the body of POST /api/v1/tenants/{tenant}/operations/{type}/start.
type startBody struct {
	Context              json.RawMessage `json:"context"`
	ProviderConnectionID *string         `json:"providerConnectionId"`
	Nonce                string          `json:"nonce"`
}

// readStartBody decodes the body of a start (empty is no context): not a JSON object is
// a 422, and so is a providerConnectionId that is neither a UUID, "" nor null. The start
// gate checks the context.
func readStartBody(raw []byte) (startBody, uuid.UUID, error) {
	var body startBody
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return startBody{}, uuid.Nil, fiber.NewError(fiber.StatusUnprocessableEntity, "the body must be a JSON object")
		}
	}
	var connID uuid.UUID
	if body.ProviderConnectionID != nil && *body.ProviderConnectionID != "" {
		var err error
		if connID, err = uuid.Parse(*body.ProviderConnectionID); err != nil {
			return startBody{}, uuid.Nil, fiber.NewError(fiber.StatusUnprocessableEntity, "providerConnectionId must be a UUID or null")
		}
	}
	return body, connID, nil
}

// handleAPIStart starts an operation through the start gate and answers its outcome.
func (s *Server) handleAPIStart(c *fiber.Ctx) error {
	tenantID, err := paramUUID(c, "tenant")
	if err != nil {
		return s.auditDenied(c, "tenant", c.Params("tenant"), err)
	}
	if err := s.deps.Operations.CheckStart(c.Params("type"), operations.SurfaceAPI); err != nil {
		return err
	}
	body, connID, err := readStartBody(c.Body())
	if err != nil {
		return err
	}
	u := currentUser(c)
	out, err := s.deps.Operations.Start(c.UserContext(), operations.StartRequest{
		Type:                 c.Params("type"),
		TenantID:             tenantID,
		Context:              body.Context,
		ProviderConnectionID: connID,
		Nonce:                body.Nonce,
		SourceSurface:        "api",
		Initiator:            initiatorOf(c, u.ID, u.Email),
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// initiatorOf describes the requesting user as a run initiator.
func initiatorOf(c *fiber.Ctx, id uuid.UUID, email string) operations.Initiator {
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return operations.Initiator{Kind: "user", UserID: id, Name: email, IP: c.IP(), UserAgent: ua}
}

// operationsError maps the operations module's errors to HTTP answers.
func operationsError(err error) (*fiber.Error, bool) {
	switch {
	case errors.Is(err, operations.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "not found"), true
	case errors.Is(err, operations.ErrForbidden):
		return fiber.NewError(fiber.StatusForbidden, "you do not have permission for this operation"), true
	case errors.Is(err, operations.ErrUnknownType):
		return fiber.NewError(fiber.StatusUnprocessableEntity, "unknown operation type"), true
	case errors.Is(err, operations.ErrInvalidContext):
		return fiber.NewError(fiber.StatusUnprocessableEntity, failure.Sanitize(err.Error())), true
	}
	return nil, false
}
