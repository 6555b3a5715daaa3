package web

import "github.com/gofiber/fiber/v2"

// routes lists every route of the app, in one place.
func (s *Server) routes() {
	s.app.Get("/healthz", s.handleHealthz)
	s.app.Get("/readyz", s.handleReadyz)

	s.app.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "no such route")
	})
}
