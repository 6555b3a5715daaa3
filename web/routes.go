package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

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

	// The hub: the login page and assets are public, everything else needs a session.
	s.app.Use("/admin/static", filesystem.New(filesystem.Config{Root: http.FS(staticFS()), MaxAge: 3600}))
	s.app.Get("/admin/login", s.handleLoginForm)
	s.app.Post("/admin/login", s.handleLogin)
	admin := s.app.Group("/admin", s.requireSession)
	admin.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/admin/operations", fiber.StatusFound) })
	admin.Post("/logout", s.handleLogout)
	admin.Get("/operations", s.handleAdminOperations)
	admin.Get("/operations/:run", s.handleAdminRun)
	admin.Get("/operations/:run/stream", s.handleAdminRunStream)
	admin.Get("/t/:tenant/operations", s.handleAdminTenantOperations)
	admin.Post("/t/:tenant/operations/start", s.handleAdminStart)

	s.app.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "no such route")
	})
}
