// Package projections turns the event log into read models. A Runner tails
// eventstore.ReadAll by global position (so it never skips an event that committed
// late), applies each batch of events to a projection and moves the projection's
// checkpoint in the same transaction (exactly-once effect), wakes on the sealer's
// NOTIFY with a polling fallback, and resumes from the checkpoint after a crash.
// Each projection is advanced by one process at a time (a PostgreSQL advisory lock);
// the others stand by and take over when it goes away.
//
// Layering (README.md, "Architecture: layers and imports"): floor 4: it imports the
// event store and the events and public types of the modules it projects (operations,
// notify, audit), and must not import a module's internal packages, modules/monolith, web or
// cmd/. No module but the wiring (modules/monolith) imports projections.
package projections
