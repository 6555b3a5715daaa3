// Package sqlfile loads the static SQL of a package from .sql files embedded next to it,
// split into named statements by a "-- name: Name" line (the sqlc / yesql convention):
//
//	-- name: TenantByID
//	-- Comment lines are documentation and are not sent to PostgreSQL.
//	SELECT t.id, t.name FROM tn_tenants t WHERE t.id = $1;
//
// A statement runs from its marker to the next one; whole-line "--" comments and blank
// lines at its ends are dropped and one trailing ";" is removed; the rest is sent as
// written. The owner parses its files once (MustParse, at package initialisation) and
// takes each statement into a package-level variable with Get, so a missing name panics
// when the package loads and fails every test at start. A statement whose table name is
// chosen at run time (a projection's live or shadow table) writes the placeholder
// {{table}} and is taken with Table; its text per table is built once and cached.
// Statements assembled from optional parts stay in Go; CheckUsage lets a test prove that
// every statement of the files is used and every name used exists.
//
// Layering (README.md, "Architecture: layers and imports"): floor 0, a leaf: it imports
// nothing of the project (pgx only, to quote identifiers) and must never import
// modules/..., projections, web or cmd/; the owners hand it their files instead.
package sqlfile

import (
	"bufio"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// TablePlaceholder stands for the table name in a statement taken with Set.Table.
const TablePlaceholder = "{{table}}"

var (
	marker    = regexp.MustCompile(`^--\s*name:\s*(\S+)\s*$`)
	validName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
)

// Set is the named statements of one owner's files.
type Set struct {
	owner string
	stmts map[string]string
}

// Parse reads the files of fsys matching pattern (path.Match syntax, e.g. "*.sql") and
// splits them into named statements. Names are CamelCase and unique across the files;
// a file must start with a marker (blank and comment lines aside), and no statement may
// be empty.
func Parse(owner string, fsys fs.FS, pattern string) (*Set, error) {
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("sqlfile: %s: %w", owner, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("sqlfile: %s: no file matches %q", owner, pattern)
	}
	s := &Set{owner: owner, stmts: map[string]string{}}
	where := map[string]string{}
	for _, file := range files {
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("sqlfile: %s: %w", owner, err)
		}
		var (
			name string
			body []string
		)
		flush := func() error {
			if name == "" {
				return nil
			}
			text := strings.TrimSpace(strings.Join(body, "\n"))
			text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
			if text == "" {
				return fmt.Errorf("sqlfile: %s: %s: statement %s is empty", owner, file, name)
			}
			s.stmts[name] = text
			return nil
		}
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			trimmed := strings.TrimSpace(line)
			if m := marker.FindStringSubmatch(trimmed); m != nil {
				if err := flush(); err != nil {
					return nil, err
				}
				name, body = m[1], nil
				if !validName.MatchString(name) {
					return nil, fmt.Errorf("sqlfile: %s: %s:%d: name %q is not CamelCase", owner, file, n, name)
				}
				if at, dup := where[name]; dup {
					return nil, fmt.Errorf("sqlfile: %s: %s:%d: statement %s already defined in %s", owner, file, n, name, at)
				}
				where[name] = fmt.Sprintf("%s:%d", file, n)
				continue
			}
			if strings.HasPrefix(trimmed, "--") {
				continue // documentation
			}
			if name == "" {
				if trimmed != "" {
					return nil, fmt.Errorf("sqlfile: %s: %s:%d: SQL before the first \"-- name:\" line", owner, file, n)
				}
				continue
			}
			body = append(body, line)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("sqlfile: %s: %s: %w", owner, file, err)
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MustParse is Parse for package initialisation: it panics on an error.
func MustParse(owner string, fsys fs.FS, pattern string) *Set {
	s, err := Parse(owner, fsys, pattern)
	if err != nil {
		panic(err)
	}
	return s
}

// Names returns the names of every statement, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.stmts))
	for n := range s.stmts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Get returns the statement called name. It panics when there is none, or when the
// statement has a table placeholder (take those with Table).
func (s *Set) Get(name string) string {
	text := s.lookup(name)
	if strings.Contains(text, TablePlaceholder) {
		panic(fmt.Sprintf("sqlfile: %s: statement %s has %s: take it with Table", s.owner, name, TablePlaceholder))
	}
	return text
}

// Table returns the statement called name, whose table is written TablePlaceholder. It
// panics when there is no such statement or it has no placeholder.
func (s *Set) Table(name string) *PerTable {
	text := s.lookup(name)
	if !strings.Contains(text, TablePlaceholder) {
		panic(fmt.Sprintf("sqlfile: %s: statement %s has no %s: take it with Get", s.owner, name, TablePlaceholder))
	}
	return &PerTable{text: text}
}

func (s *Set) lookup(name string) string {
	text, ok := s.stmts[name]
	if !ok {
		panic(fmt.Sprintf("sqlfile: %s: no statement %s in its .sql files", s.owner, name))
	}
	return text
}

// PerTable is a statement on a table chosen at run time.
type PerTable struct {
	text  string
	cache sync.Map // table name → statement text
}

// For returns the statement on table (quoted as an identifier); each table's text is
// built once.
func (p *PerTable) For(table string) string {
	if text, ok := p.cache.Load(table); ok {
		return text.(string)
	}
	text := strings.ReplaceAll(p.text, TablePlaceholder, pgx.Identifier{table}.Sanitize())
	p.cache.Store(table, text)
	return text
}

// getCall matches a statement taken in Go source: <set>.Get("Name") or <set>.Table("Name").
var getCall = regexp.MustCompile(`\b(\w+)\.(?:Get|Table)\("(\w*)"\)`)

// CheckUsage reads the Go files of fsys's root (not the _test.go ones) and returns an
// error naming every statement of s that no setVar.Get or setVar.Table call takes, and
// every name such a call takes that s lacks.
func CheckUsage(s *Set, fsys fs.FS, setVar string) error {
	files, err := fs.Glob(fsys, "*.go")
	if err != nil {
		return err
	}
	used := map[string]bool{}
	var problems []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		for _, m := range getCall.FindAllStringSubmatch(string(src), -1) {
			if m[1] != setVar {
				continue
			}
			used[m[2]] = true
			if _, ok := s.stmts[m[2]]; !ok {
				problems = append(problems, fmt.Sprintf("%s takes statement %q, which no .sql file defines", f, m[2]))
			}
		}
	}
	for _, n := range s.Names() {
		if !used[n] {
			problems = append(problems, fmt.Sprintf("statement %s is defined but never taken with %s.Get or %s.Table", n, setVar, setVar))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("sqlfile: %s:\n%s", s.owner, strings.Join(problems, "\n"))
	}
	return nil
}
