// Package operations is the operations module: the run aggregate (Run, rebuilt from the
// "run-<id>" stream) and its events, the closed catalog of run types, statuses, outcomes
// and status buckets, the summary-count keys, the start gate with its dedupe and scope
// locks (Start), dispatch through the watermill-sql outbox, the run workers and their
// heartbeats (RunWorkers, Handler, Reporter), the stale-run sweeper, run links, the
// legacy-run events (LegacyRunImported, LegacyRunLinked; package legacy maps the legacy
// rows to them). Every run a start surface records goes through the gate (Start); the
// bench writer that appends finished runs without it is package historygen, outside
// this one. It owns the ops_ tables (migrations/) and reads only them. The failure
// vocabulary (reason codes, failure entries, the sanitizer) lives in the leaf package
// failure; this package re-exports it under its run names (ReasonCode, Failure,
// Sanitize: aliases, failure.go).
//
// Layering (README.md, "Architecture: layers and imports"): floor 2. It may import the
// event store, the floor-0 leaf failure and the floor-1 modules it builds on (tenancy for
// authorization and provider connections, audit for start attempts, notify for run
// notifications); it must not import the run-type modules (provider, inventory,
// directory, drift, backup: they register their Handler with Service.Handle instead),
// projections, modules/monolith, web or cmd; architecture_test.go checks this.
package operations
