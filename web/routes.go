package web

import "github.com/gofiber/fiber/v2"

// routes lists every route of the app, in one place.
func (s *Server) routes() {
	s.app.Use(s.metrics.observe)
	s.app.Get("/healthz", s.handleHealthz)
	s.app.Get("/readyz", s.handleReadyz)
	s.app.Get("/metrics", s.metrics.handler())

	api := s.app.Group("/api/v1", s.requireToken)
	api.Post("/tenants/:tenant/operations/:type/start", s.handleAPIStart)
	api.Get("/operations", s.handleAPIRuns)
	api.Get("/operations/:run", s.handleAPIRun)
	api.Get("/operations/:run/events", s.handleAPIRunEvents)
	api.Get("/notifications", s.handleAPINotifications)

	s.app.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "no such route")
	})
}
