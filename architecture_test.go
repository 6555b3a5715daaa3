// Package architecture_test checks the import layers of the repository (README.md,
// "Architecture: layers and imports"): every package sits on a floor, a package imports
// only packages on its own floor or below, and a few edges are banned outright. It owns
// no production code and imports nothing of the project; it reads the import graph
// from `go list -json ./...`.
package architecture_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// modulePath is the module's import path; package paths below are relative to it.
const modulePath = "github.com/tenantatlas/ops"

// layer puts a package, or a whole package tree, on a floor.
type layer struct {
	path  string // relative to the module root; "." is the root
	tree  bool   // true: path and every package below it
	floor int
}

// Floors, lowest first. A package may import packages on its own floor or below;
// an import of a higher floor is a violation unless allowUp names it.
const (
	floorFoundation = 0 // the event store and leaf libraries: eventstore/..., modules/graph/..., modules/failure
	floorCore       = 1 // what every module needs: tenancy, audit, notify
	floorOperations = 2 // the run aggregate, start gate, workers, sweeper
	floorRunTypes   = 3 // the work behind each run type: provider, inventory, directory, drift, backup; legacy import, the history generator, replay
	floorReadModels = 4 // projections
	floorWiring     = 5 // modules/monolith (and monotest): builds the system from every part
	floorEdge       = 6 // web: the HTTP edge
	floorCommands   = 7 // cmd/atlas, and this test package at the root
)

// layers is the floor of every package. A package no entry covers fails the check,
// so a new package is placed here on purpose, not by accident.
var layers = []layer{
	{path: "eventstore", tree: true, floor: floorFoundation},
	{path: "modules/graph", tree: true, floor: floorFoundation},
	{path: "modules/failure", tree: true, floor: floorFoundation},
	{path: "modules", tree: false, floor: floorFoundation}, // the doc-only parent package

	{path: "modules/tenancy", tree: true, floor: floorCore},
	{path: "modules/audit", tree: true, floor: floorCore},
	{path: "modules/notify", tree: true, floor: floorCore},

	{path: "modules/operations", tree: true, floor: floorOperations},

	{path: "modules/provider", tree: true, floor: floorRunTypes},
	{path: "modules/inventory", tree: true, floor: floorRunTypes},
	{path: "modules/directory", tree: true, floor: floorRunTypes},
	{path: "modules/drift", tree: true, floor: floorRunTypes},
	{path: "modules/backup", tree: true, floor: floorRunTypes},
	{path: "modules/restore", tree: true, floor: floorRunTypes},
	{path: "modules/alerts", tree: true, floor: floorRunTypes}, // follows run events, authorizes with tenancy
	{path: "modules/legacy", tree: true, floor: floorRunTypes},
	{path: "modules/historygen", tree: true, floor: floorRunTypes},
	{path: "modules/replay", tree: true, floor: floorRunTypes},
	// modules/onboarding: onboarding sessions (tenancy's APIs, the gate).
	{path: "modules/onboarding", tree: true, floor: floorRunTypes},
	{path: "modules/runbooks", tree: true, floor: floorRunTypes}, // platform runbooks (spec 113): drift's Go API, the gate

	{path: "projections", tree: true, floor: floorReadModels},

	{path: "modules/monolith", tree: true, floor: floorWiring},

	{path: "web", tree: true, floor: floorEdge},

	{path: "cmd", tree: true, floor: floorCommands},
	{path: ".", tree: false, floor: floorCommands},
}

// edge is one import, from importer to imported, as module-relative paths.
type edge struct{ from, to string }

// allowUp lists the production imports that climb to a higher floor today, each with
// why it is tolerated. An entry exempts an edge from the floor rule only, never from a
// ban, and an entry whose edge no longer exists (or no longer climbs) fails the check:
// delete it when the edge goes.
var allowUp = map[edge]string{
	// None today: issue 10 point 1 moved replay (which rebuilds runs with
	// operations.RunFromEvents) from the audit tree (floor 1) to modules/replay (floor 3).
}

// pkg is what the check needs of one package of `go list -json`.
type pkg struct {
	ImportPath   string
	Imports      []string // production imports
	TestImports  []string // imports of the package's in-package _test.go files
	XTestImports []string // imports of its _test package
	Error        *struct{ Err string }
}

// rel returns p relative to the module ("." for the root), or false outside the module.
func rel(p string) (string, bool) {
	if p == modulePath {
		return ".", true
	}
	if r, ok := strings.CutPrefix(p, modulePath+"/"); ok {
		return r, true
	}
	return "", false
}

// under reports whether p is root or a package below it.
func under(p, root string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}

// floorOf returns the floor of p by its most specific layer entry.
func floorOf(p string) (int, bool) {
	best, floor := -1, 0
	for _, l := range layers {
		if (l.tree && under(p, l.path)) || p == l.path {
			if len(l.path) > best {
				best, floor = len(l.path), l.floor
			}
		}
	}
	return floor, best >= 0
}

// isModuleInternal reports whether p is an internal package of a module:
// modules/<anything>/internal or below it.
func isModuleInternal(p string) bool {
	if !under(p, "modules") {
		return false
	}
	return slices.Contains(strings.Split(p, "/"), "internal")
}

// ban returns why the import from→to is forbidden whatever the floors say, or "".
// Bans hold for test imports too.
func ban(from, to string) string {
	switch {
	case (under(to, "web") || under(to, "cmd")) && !under(from, "web") && !under(from, "cmd") && from != ".":
		// Covers "a module imports web or cmd" and the same for eventstore and projections.
		return "only web/ and cmd/ may import web/ or cmd/"
	case under(from, "eventstore") && (under(to, "modules") || under(to, "projections")):
		return "eventstore/ must not import modules/ or projections/"
	case under(from, "projections") && isModuleInternal(to):
		return "projections/ must not import a module's internal packages"
	case under(from, "modules/failure") && !under(to, "modules/failure"):
		return "modules/failure is a leaf: it imports nothing of this module"
	}
	return ""
}

// check returns every violation of the layering in pkgs (paths relative to the module,
// only imports inside the module), given the allowed upward edges, sorted.
func check(pkgs []pkg, allow map[edge]string) []string {
	var out []string
	seenUp := map[edge]bool{}
	for _, p := range pkgs {
		from := p.ImportPath
		fromFloor, placed := floorOf(from)
		if !placed {
			out = append(out, fmt.Sprintf("%s: no layer covers this package; give it a floor in architecture_test.go and README.md", from))
		}
		for _, to := range p.Imports {
			if why := ban(from, to); why != "" {
				out = append(out, fmt.Sprintf("%s imports %s: %s", from, to, why))
				continue
			}
			toFloor, ok := floorOf(to)
			if !placed || !ok || toFloor <= fromFloor {
				continue // an unplaced package is reported on its own
			}
			e := edge{from, to}
			if _, ok := allow[e]; ok {
				seenUp[e] = true
				continue
			}
			out = append(out, fmt.Sprintf("%s (floor %d) imports %s (floor %d): imports go down, never up", from, fromFloor, to, toFloor))
		}
		// Tests may climb (a module's tests drive the wired monolith through monotest),
		// but the bans hold for them too.
		for _, to := range slices.Concat(p.TestImports, p.XTestImports) {
			if why := ban(from, to); why != "" {
				out = append(out, fmt.Sprintf("%s (tests) imports %s: %s", from, to, why))
			}
		}
	}
	for e, why := range allow {
		if !seenUp[e] {
			out = append(out, fmt.Sprintf("allowUp entry %s -> %s (%q) matches no upward production import: delete it", e.from, e.to, why))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestImportLayers checks the real import graph of every package of the module.
func TestImportLayers(t *testing.T) {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	listed, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./... in %s: %v\n%s", cmd.Dir, err, stderr.String())
	}

	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(listed))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		from, ok := rel(p.ImportPath)
		if !ok {
			t.Fatalf("go list ./... returned %s, outside module %s", p.ImportPath, modulePath)
		}
		internal := func(imports []string) []string {
			var out []string
			for _, i := range imports {
				if r, ok := rel(i); ok {
					out = append(out, r)
				}
			}
			return out
		}
		pkgs = append(pkgs, pkg{
			ImportPath:   from,
			Imports:      internal(p.Imports),
			TestImports:  internal(p.TestImports),
			XTestImports: internal(p.XTestImports),
		})
	}

	// Guard against a vacuous pass: the graph must be the one described in README.md.
	have := map[edge]bool{}
	for _, p := range pkgs {
		for _, to := range p.Imports {
			have[edge{p.ImportPath, to}] = true
		}
	}
	for _, e := range []edge{
		{"cmd/atlas", "web"},
		{"web", "projections"},
		{"projections", "eventstore"},
		{"modules/operations", "eventstore"},
		{"modules/monolith", "modules/operations"},
	} {
		if !have[e] {
			t.Errorf("go list shows no import %s -> %s: the graph was not read (or the layering changed; update this test)", e.from, e.to)
		}
	}
	for _, l := range layers {
		found := false
		for _, p := range pkgs {
			if p.ImportPath == l.path || (l.tree && under(p.ImportPath, l.path)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("layer %q (floor %d) matches no package: delete or fix it", l.path, l.floor)
		}
	}

	for _, v := range check(pkgs, allowUp) {
		t.Error(v)
	}
	t.Logf("checked %d packages, %d production imports inside the module", len(pkgs), len(have))
}

// TestImportRules shows that the checker fails on each kind of violation, over
// synthetic graphs.
func TestImportRules(t *testing.T) {
	replayEdge := map[edge]string{{"modules/audit/replay", "modules/operations"}: "test"}
	tests := []struct {
		name  string
		pkgs  []pkg
		allow map[edge]string
		want  []string // substrings, one per expected violation; none means a pass
	}{
		{
			name: "downward and same-floor imports pass",
			pkgs: []pkg{
				{ImportPath: "cmd/atlas", Imports: []string{"web", "modules/monolith", "eventstore"}},
				{ImportPath: "web", Imports: []string{"projections", "modules/backup", "eventstore"}},
				{ImportPath: "modules/monolith/monotest", Imports: []string{"modules/monolith", "modules/graph/graphsim"}},
				{ImportPath: "projections", Imports: []string{"modules/operations", "modules/notify"}},
				{ImportPath: "modules/backup", Imports: []string{"modules/inventory", "modules/provider", "eventstore/pgmigrate"}},
				{ImportPath: "modules/tenancy", Imports: []string{"modules/audit", "modules/graph"}},
				{ImportPath: "eventstore/pgtest", Imports: []string{"eventstore/pglocal"}},
			},
		},
		{
			name: "tests may climb",
			pkgs: []pkg{
				{ImportPath: "modules/operations", XTestImports: []string{"projections", "modules/monolith/monotest"}},
				{ImportPath: "eventstore", TestImports: []string{"eventstore/pgtest"}},
			},
		},
		{
			name: "a module imports web",
			pkgs: []pkg{{ImportPath: "modules/backup", Imports: []string{"web"}}},
			want: []string{"modules/backup imports web: only web/ and cmd/"},
		},
		{
			name: "the wiring imports cmd",
			pkgs: []pkg{{ImportPath: "modules/monolith", Imports: []string{"cmd/atlas/internal/flags"}}},
			want: []string{"modules/monolith imports cmd/atlas/internal/flags: only web/ and cmd/"},
		},
		{
			name: "a module's tests import web",
			pkgs: []pkg{{ImportPath: "modules/drift", XTestImports: []string{"web"}}},
			want: []string{"modules/drift (tests) imports web"},
		},
		{
			name: "projections import web",
			pkgs: []pkg{{ImportPath: "projections", Imports: []string{"web"}}},
			want: []string{"projections imports web"},
		},
		{
			name: "the event store imports a module, projections and web",
			pkgs: []pkg{
				{ImportPath: "eventstore", Imports: []string{"modules/operations", "projections", "web"}},
				{ImportPath: "eventstore/pgtest", Imports: []string{"modules/graph"}},
			},
			want: []string{
				"eventstore imports modules/operations: eventstore/ must not import",
				"eventstore imports projections: eventstore/ must not import",
				"eventstore imports web: only web/ and cmd/",
				"eventstore/pgtest imports modules/graph: eventstore/ must not import",
			},
		},
		{
			name: "the event store's tests import the monolith",
			pkgs: []pkg{{ImportPath: "eventstore", XTestImports: []string{"modules/monolith"}}},
			want: []string{"eventstore (tests) imports modules/monolith: eventstore/ must not import"},
		},
		{
			name: "projections import a module's internals",
			pkgs: []pkg{{ImportPath: "projections", Imports: []string{"modules/operations/internal/sanitize", "modules/operations"}}},
			want: []string{"projections imports modules/operations/internal/sanitize: projections/ must not import a module's internal"},
		},
		{
			name: "upward imports",
			pkgs: []pkg{
				{ImportPath: "modules/operations", Imports: []string{"projections"}},
				{ImportPath: "modules/tenancy", Imports: []string{"modules/operations"}},
				{ImportPath: "modules/graph", Imports: []string{"modules/tenancy"}},
				{ImportPath: "projections", Imports: []string{"modules/monolith"}},
				{ImportPath: "modules/inventory", Imports: []string{"projections"}},
			},
			want: []string{
				"modules/graph (floor 0) imports modules/tenancy (floor 1)",
				"modules/inventory (floor 3) imports projections (floor 4)",
				"modules/operations (floor 2) imports projections (floor 4)",
				"modules/tenancy (floor 1) imports modules/operations (floor 2)",
				"projections (floor 4) imports modules/monolith (floor 5)",
			},
		},
		{
			name: "the failure leaf imports a floor-0 package",
			pkgs: []pkg{{ImportPath: "modules/failure", Imports: []string{"modules/graph"}, XTestImports: []string{"modules/operations"}}},
			want: []string{
				"modules/failure (tests) imports modules/operations: modules/failure is a leaf",
				"modules/failure imports modules/graph: modules/failure is a leaf",
			},
		},
		{
			name:  "an allowed upward import passes",
			pkgs:  []pkg{{ImportPath: "modules/audit/replay", Imports: []string{"modules/operations", "modules/tenancy"}}},
			allow: replayEdge,
		},
		{
			name: "the same import without its allow-list entry fails",
			pkgs: []pkg{{ImportPath: "modules/audit/replay", Imports: []string{"modules/operations"}}},
			want: []string{"modules/audit/replay (floor 1) imports modules/operations (floor 2)"},
		},
		{
			name:  "a stale allow-list entry fails",
			pkgs:  []pkg{{ImportPath: "modules/audit/replay", Imports: []string{"modules/tenancy"}}},
			allow: replayEdge,
			want:  []string{"allowUp entry modules/audit/replay -> modules/operations"},
		},
		{
			name:  "the allow-list does not lift a ban",
			pkgs:  []pkg{{ImportPath: "modules/backup", Imports: []string{"web"}}},
			allow: map[edge]string{{"modules/backup", "web"}: "test"},
			want: []string{
				"allowUp entry modules/backup -> web",
				"modules/backup imports web: only web/ and cmd/",
			},
		},
		{
			name: "a package without a floor fails",
			pkgs: []pkg{
				{ImportPath: "modules/nofloor", Imports: []string{"modules/operations"}},
				{ImportPath: "tools/gen", Imports: []string{"web"}},
			},
			want: []string{
				"modules/nofloor: no layer covers this package",
				"tools/gen imports web: only web/ and cmd/",
				"tools/gen: no layer covers this package",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.pkgs, tt.allow)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}

	// Every floor of the README's diagram is where the layer table says.
	for p, want := range map[string]int{
		"eventstore": 0, "eventstore/pgtest": 0, "eventstore/sqlfile": 0, "modules/graph/msgraph": 0, "modules": 0, "modules/failure": 0,
		"modules/tenancy": 1, "modules/audit/replay": 1, "modules/notify": 1,
		"modules/operations": 2, "modules/provider": 3, "modules/backup": 3, "modules/restore": 3, "modules/legacy": 3, "modules/historygen": 3, "modules/replay": 3,
		"projections": 4, "modules/monolith/monotest": 5, "web": 6, "cmd/atlas": 7, ".": 7,
	} {
		if got, ok := floorOf(p); !ok || got != want {
			t.Errorf("floorOf(%q) = %d, %v; want %d", p, got, ok, want)
		}
	}
	if _, ok := floorOf("modules/nofloor"); ok {
		t.Error(`floorOf("modules/nofloor") found a floor; "modules" must cover only itself`)
	}
}
