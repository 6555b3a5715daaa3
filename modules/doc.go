// Package modules is the parent of the business modules; it holds no code. Each module
// owns its tables, its events and its commands, and talks to the others only through
// their Go APIs or their events, never their tables.
//
// The modules, by floor (README.md, "Architecture: layers and imports"; a module imports
// only its own floor or below, and architecture_test.go checks it):
//
//	floor 0  graph, graph/msgraph, graph/graphsim     the Graph contract, client and simulator
//	floor 1  tenancy, audit, audit/replay, notify     what every other module needs
//	floor 2  operations                               runs: gate, dispatch, workers, sweeper
//	floor 3  provider, inventory, directory, drift,   the work behind each run type
//	         backup
//	floor 5  monolith, monolith/monotest              the wiring of every module and projection
//
// The one upward import, audit/replay → operations, is allowed until issue 10 point 1
// moves replay. No package under modules/ imports web/ or cmd/, tests included. The
// design's restore and runbooks modules do not exist yet.
package modules
