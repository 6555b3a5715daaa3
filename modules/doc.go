// Package modules is the parent of the business modules; it holds no code. Each module
// owns its tables, its events and its commands, and talks to the others only through
// their Go APIs or their events, never their tables.
//
// The modules, by floor (README.md, "Architecture: layers and imports"; a module imports
// only its own floor or below, and architecture_test.go checks it):
//
//	floor 0  graph, graph/msgraph, graph/graphsim,    the Graph contract, client and simulator;
//	         failure                                  reason codes and the sanitizer (a leaf)
//	floor 1  tenancy, audit, notify                   what every other module needs
//	floor 2  operations                               runs: gate, dispatch, workers, sweeper
//	floor 3  provider, inventory, directory, drift,   the work behind each run type, and what
//	         backup; legacy, historygen, replay       is built on runs: legacy import, the
//	                                                  bench history writer, replay
//	floor 5  monolith, monolith/monotest              the wiring of every module and projection
//
// No import climbs a floor. No package under modules/ imports web/ or cmd/, tests
// included. The design's restore and runbooks modules do not exist yet.
package modules
