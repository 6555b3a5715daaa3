package web

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/projections"
)

// notificationsPageSize is how many notifications one page of /admin/notifications lists.
const notificationsPageSize = 50

// notificationsPage is the data of the notifications template.
type notificationsPage struct {
	Notes  []projections.Notification
	Unread int
	Next   string
}

// handleAdminNotifications lists the user's notifications, newest first, a page at a
// time (?cursor= from the previous page's Next link), each linking to its run.
func (s *Server) handleAdminNotifications(c *fiber.Ctx) error {
	cursor, err := queryCursor(c, "This page link is not valid; start from the first page.")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	u := currentUser(c)
	notes, next, err := s.deps.Runs.NotificationsPage(ctx, u.ID, cursor, notificationsPageSize)
	if errors.Is(err, projections.ErrBadCursor) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "This page link is not valid; start from the first page.")
	}
	if err != nil {
		return err
	}
	unread, err := s.deps.Runs.UnreadNotifications(ctx, u.ID)
	if err != nil {
		return err
	}
	data := notificationsPage{Notes: notes, Unread: unread}
	if next != "" {
		data.Next = "/admin/notifications?cursor=" + url.QueryEscape(next)
	}
	return s.render(c, fiber.StatusOK, "notifications", page{Title: "Notifications", Nav: "notifications", Data: data})
}

// handleAdminNotificationRead marks one of the user's notifications read; another
// user's (or none) is a 404.
func (s *Server) handleAdminNotificationRead(c *fiber.Ctx) error {
	id, err := paramUUID(c, "notification")
	if err != nil {
		return err
	}
	err = s.deps.Runs.MarkNotificationRead(c.UserContext(), currentUser(c).ID, id, time.Now())
	if errors.Is(err, projections.ErrNoNotification) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	}
	if err != nil {
		return err
	}
	return c.Redirect("/admin/notifications", fiber.StatusSeeOther)
}

// handleAdminNotificationsReadAll marks every notification of the user read.
func (s *Server) handleAdminNotificationsReadAll(c *fiber.Ctx) error {
	if err := s.deps.Runs.MarkAllNotificationsRead(c.UserContext(), currentUser(c).ID, time.Now()); err != nil {
		return err
	}
	s.setFlash(c, flash{Kind: "success", Message: "Every notification is marked read."})
	return c.Redirect("/admin/notifications", fiber.StatusSeeOther)
}
