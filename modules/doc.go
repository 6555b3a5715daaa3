// Package modules is the parent of the business modules (operations, tenancy, graph,
// inventory, directory, drift, backup, restore, runbooks, audit, notify). Each module
// owns its tables, its events and its commands, and talks to the others only through
// their Go APIs or their events. The first modules arrive with issue 3.
package modules
