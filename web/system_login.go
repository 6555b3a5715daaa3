package web

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// systemLogin is the /system sign-in: the fields of /admin/login with the panel's own
// cookies, key, throttle and platform users.
func (s *Server) systemLogin() loginFlow {
	return loginFlow{
		codec: s.systemSessions(), home: "/system/ops", loginPath: "/system/login",
		signedIn: func(ctx context.Context, raw string) (bool, error) {
			_, ok, err := s.platformSessionUser(ctx, raw)
			return ok, err
		},
		authenticate: func(ctx context.Context, a tenancy.LoginAttempt) (uuid.UUID, int64, error) {
			u, err := s.deps.Tenancy.PlatformLogin(ctx, a)
			return u.ID, u.SessionVersion, err
		},
		current: func(c *fiber.Ctx) uuid.UUID { return currentPlatformUser(c).ID },
		logout:  s.deps.Tenancy.PlatformLogout,
		render: func(c *fiber.Ctx, status int, csrf string, data loginPage) error {
			return s.renderSystem(c, status, "system_login", systemPage{Title: "Sign in", CSRF: csrf, Data: data})
		},
	}
}

// handleSystemLoginForm renders the /system sign-in form.
func (s *Server) handleSystemLoginForm(c *fiber.Ctx) error { return s.systemLogin().form(c) }

// handleSystemLogin checks a platform user's credentials, starts a /system session and
// goes to /system/ops. Throttled per client address and email together.
func (s *Server) handleSystemLogin(c *fiber.Ctx) error { return s.systemLogin().submit(c) }

// handleSystemLogout ends every /system session of the platform user and records it.
func (s *Server) handleSystemLogout(c *fiber.Ctx) error { return s.systemLogin().signOut(c) }

// handleSystemHome is /system/ops: who is signed in and what they may do. It links only
// to pages that exist.
func (s *Server) handleSystemHome(c *fiber.Ctx) error {
	return s.renderSystem(c, fiber.StatusOK, "system_home", systemPage{Title: "Platform operations", Nav: "home"})
}
