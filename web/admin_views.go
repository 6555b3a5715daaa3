package web

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tenantatlas/ops/projections"
)

// Saved views (issue 13): a user's named run list URLs, listed on the operations pages.
// The filter state lives in the URL, so a view is that URL: only an operations list's
// path and its filter parameters are kept (never a cursor, never another page).

// maxViewName is the longest saved view name, in characters.
const maxViewName = 60

// viewPath is an operations list's path: every tenant's, or one tenant's.
var viewPath = regexp.MustCompile(`^/admin(/t/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?/operations$`)

// viewParams are the filter parameters a saved view keeps.
var viewParams = []string{"type", "bucket", "range", "since", "until", "q"}

// maxViewURL is the longest view URL kept or accepted, in bytes.
const maxViewURL = 1000

// errBadView is a view URL that is not an operations list's.
var errBadView = errors.New("web: not an operations list URL")

// savedViewURL reduces raw to an operations list's path and filters.
func savedViewURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.IsAbs() || u.Host != "" || !viewPath.MatchString(u.Path) || len(raw) > maxViewURL {
		return "", errBadView
	}
	in, out := u.Query(), url.Values{}
	for _, k := range viewParams {
		if v := in.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	if len(out) == 0 {
		return u.Path, nil
	}
	// Encoding can lengthen what the browser sent (a bare "!" becomes "%21"): the
	// reduced URL is held to the same bound, so that it reduces to itself.
	if reduced := u.Path + "?" + out.Encode(); len(reduced) <= maxViewURL {
		return reduced, nil
	}
	return "", errBadView
}

// handleAdminViewSave saves the current list's URL under a name (the same name again
// replaces it) and opens it.
func (s *Server) handleAdminViewSave(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || utf8.RuneCountInString(name) > maxViewName || !plainText(name) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "A saved view needs a name of 1 to 60 characters.")
	}
	target, err := savedViewURL(c.FormValue("url"))
	if err != nil {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Only an operations list can be saved as a view.")
	}
	err = s.deps.Runs.SaveView(c.UserContext(), currentUser(c).ID, name, target, time.Now())
	if errors.Is(err, projections.ErrTooManyViews) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "You have 50 saved views; delete one to save another.")
	}
	if err != nil {
		return err
	}
	s.setFlash(c, flash{Kind: "success", Message: "Saved the view “" + name + "”."})
	return c.Redirect(target, fiber.StatusSeeOther)
}

// handleAdminViewDelete deletes one of the user's saved views.
func (s *Server) handleAdminViewDelete(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || utf8.RuneCountInString(name) > maxViewName {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Name the saved view to delete.")
	}
	if err := s.deps.Runs.DeleteView(c.UserContext(), currentUser(c).ID, name); err != nil {
		return err
	}
	s.setFlash(c, flash{Kind: "success", Message: "Deleted the view “" + name + "”."})
	return c.Redirect("/admin/operations", fiber.StatusSeeOther)
}
