// Package projections turns the event log into read models: a runner that tails
// eventstore.ReadAll by global position and keeps each projection's checkpoint in the
// same transaction as its writes, a registry of versioned projections with blue/green
// rebuilds, and the read models of the operations hub. The runner arrives with issue 4;
// until then the package holds nothing else.
package projections
