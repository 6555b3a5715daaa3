package web

import "github.com/gofiber/fiber/v2"

// WithTestRoutes returns deps whose server also registers the routes extra adds (before
// the not-found answer), for tests that need a handler of their own.
func WithTestRoutes(deps Deps, extra func(fiber.Router)) Deps {
	deps.extraRoutes = extra
	return deps
}
