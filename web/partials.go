package web

import (
	"fmt"
	"html/template"
	"strings"
)

// The values the partials of templates/partials.html take, and the template functions
// that build them in a page: {{template "empty" (empty "No runs yet." "Start one.")}}.

// partialFuncs are the template functions that build the partials' values.
var partialFuncs = template.FuncMap{
	"thead":       tableHead,
	"table_open":  func(class string, head tableHeadData) tableOpen { return tableOpen{Class: class, Head: head} },
	"num":         func(label string) column { return column{Label: label, Num: true} },
	"empty":       func(title string, hint any) emptyState { return emptyState{Title: title, Hint: hint} },
	"emptyinline": func(title string, text any) emptyState { return emptyState{Title: title, Inline: text} },
	"pager":       func(prev, next string, page int) pager { return pager{Prev: prev, Next: next, Page: page} },
	"cat":         catHTML,
	"pick":        func(options any, selected string) choice { return choice{Options: options, Selected: selected} },
	"em":          func(s string) template.HTML { return "<em>" + template.HTML(template.HTMLEscapeString(s)) + "</em>" },
	"link":        linkHTML,
	"account":     func(title, name, action, csrf string) accountBox { return accountBox{title, name, action, csrf} },
	"login_form":  func(action, csrf string, p loginPage) loginForm { return loginForm{action, csrf, p} },
	"tenantdata":  func() []tenantPage { return tenantPages[2:] },
}

// tenantPage is one of a tenant's pages as the navigation lists it: Nav is the page's
// page.Nav, Path follows /admin/t/{tenant}.
type tenantPage struct {
	Nav, Label, Path string
}

// tenantPages are a tenant's pages in the order every navigation lists them (the
// sidebar, the tenant's sub-navigation, the tenants list): its overview and operations
// first, then its data (tenantdata).
var tenantPages = []tenantPage{
	{"overview", "Overview", ""},
	{"operations", "Operations", "/operations"},
	{"inventory", "Inventory", "/inventory"},
	{"directory", "Directory", "/directory/groups"},
	{"drift", "Drift", "/drift"},
	{"backups", "Backups", "/backups"},
	{"connections", "Provider connections", "/provider-connections"},
}

// column is a table's header cell; a Num column holds numbers (right-aligned).
type column struct {
	Label string
	Num   bool
}

// tableHeadData is what the thead partial takes: a caption for screen readers (none
// when empty) and the columns.
type tableHeadData struct {
	Caption string
	Columns []column
}

// tableHead builds a thead from a caption and columns, each a label or a num column.
func tableHead(caption string, cols ...any) (tableHeadData, error) {
	h := tableHeadData{Caption: caption}
	for _, c := range cols {
		switch c := c.(type) {
		case string:
			h.Columns = append(h.Columns, column{Label: c})
		case column:
			h.Columns = append(h.Columns, c)
		default:
			return h, fmt.Errorf("thead: a column is a string or num, not %T", c)
		}
	}
	return h, nil
}

// tableOpen is what the table_open partial takes: the table's class and its head.
type tableOpen struct {
	Class string
	Head  tableHeadData
}

// emptyState is what the empty partial takes: the title of an empty list, and either a
// text after it (Inline) or a call to action under it (Hint); a text is a string or
// the template.HTML of cat.
type emptyState struct {
	Title        string
	Inline, Hint any
}

// pager is what the pager partial takes: the previous and next pages' URLs ("" when
// there is none) and the page number (0 for a cursor-paged list).
type pager struct {
	Prev, Next string
	Page       int
}

// catHTML joins the parts of a sentence into HTML: strings escaped, the template.HTML
// of em and link kept.
func catHTML(parts ...any) template.HTML {
	var b strings.Builder
	for _, p := range parts {
		switch p := p.(type) {
		case template.HTML:
			b.WriteString(string(p))
		case string:
			b.WriteString(template.HTMLEscapeString(p))
		default:
			b.WriteString(template.HTMLEscapeString(fmt.Sprint(p)))
		}
	}
	return template.HTML(b.String()) // every part is escaped or built escaped
}

// linkHTML is a link to a page of the hub: href must be a path or a query ("/…", "?…");
// anything else (a scheme, another host) links nowhere.
func linkHTML(href, label string) template.HTML {
	if !(strings.HasPrefix(href, "/") && !strings.HasPrefix(href, "//")) && !strings.HasPrefix(href, "?") {
		href = "#"
	}
	return template.HTML(`<a href="` + template.HTMLEscapeString(href) + `">` + template.HTMLEscapeString(label) + `</a>`) // both escaped
}

// accountBox is what the account partial takes: the signed-in account's hover title and
// shown name, and the sign-out form's action and CSRF token.
type accountBox struct {
	Title, Name, Action, CSRF string
}

// loginForm is what the login_form partial takes: the form's action and CSRF token and
// the sign-in page's data.
type loginForm struct {
	Action, CSRF string
	Page         loginPage
}

// choice is a filter select's options (any list whose items print as their value) and
// the selected value, for the partials filter_bucket and filter_range.
type choice struct {
	Options  any
	Selected string
}
