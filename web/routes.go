package web

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/tenantatlas/ops/modules/tenancy"
)

// routes lists every route of the app, in one place.
func (s *Server) routes() {
	s.app.Use(s.recoverPanic) // first: no panic below it ends the process
	s.app.Use(s.metrics.observe)
	s.app.Use(securityHeaders)
	s.app.Use(forwardedFor(s.deps.TrustedProxies))
	s.app.Use(requestDeadline(s.deps.RequestTimeout))
	s.app.Use(checkQuery)
	s.app.Get("/healthz", s.handleHealthz)
	s.app.Get("/readyz", s.handleReadyz)
	s.app.Get("/metrics", s.metrics.handler())

	api := s.app.Group("/api/v1", s.requireToken)
	api.Post("/tenants/:tenant/operations/:type/start", s.handleAPIStart)
	api.Get("/operations", s.handleAPIRuns)
	api.Get("/operations.csv", s.handleAPIRunsCSV) // issue 13: the list's filters, streamed as CSV
	api.Get("/operations/:run", s.handleAPIRun)
	api.Get("/operations/:run/events", s.handleAPIRunEvents)
	api.Get("/notifications", s.handleAPINotifications)
	// Alerts (issue 11 point 6): workspace rules (owners) and their deliveries.
	api.Post("/alert-rules", s.handleAPIAlertRuleCreate)
	api.Get("/alert-rules", s.handleAPIAlertRules)
	api.Get("/alert-deliveries", s.handleAPIAlertDeliveries)
	// Backup schedules (issue 12 point 2).
	api.Get("/tenants/:tenant/backup-schedules", s.handleAPISchedules)
	api.Post("/tenants/:tenant/backup-schedules", s.handleAPIScheduleCreate)
	api.Get("/tenants/:tenant/backup-schedules/:schedule", s.handleAPISchedule)
	api.Patch("/tenants/:tenant/backup-schedules/:schedule", s.handleAPIScheduleUpdate)
	// Compliance (issue 11 point 5): the audit log, its export, a tenant's replay.
	api.Get("/audit", s.handleAPIAudit)
	api.Get("/audit/export", s.handleAuditExport)
	api.Get("/tenants/:tenant/replay", s.handleAPITenantReplay)
	// Restores (issue 12 point 3): create (preview), read, execute.
	api.Post("/tenants/:tenant/restores", s.handleAPIRestoreCreate)
	api.Get("/tenants/:tenant/restores/:restore", s.handleAPIRestore)
	api.Post("/tenants/:tenant/restores/:restore/execute", s.handleAPIRestoreExecute)
	api.Get("/workspaces/:workspace/restore-settings", s.handleAPIRestoreSettings)
	api.Put("/workspaces/:workspace/restore-settings", s.handleAPIRestoreSettingsUpdate)

	// The hub: the login page and assets are public, everything else needs a session.
	s.app.Use("/admin/static", filesystem.New(filesystem.Config{Root: http.FS(staticFS()), MaxAge: 3600}))
	s.app.Get("/admin/login", s.handleLoginForm)
	s.app.Post("/admin/login", s.handleLogin)
	admin := s.app.Group("/admin", s.requireSession)
	// The overview (issue 13 point 1): the workspace's and a tenant's.
	admin.Get("/", s.handleAdminOverview)
	admin.Get("/t/:tenant", s.handleAdminTenantOverview)
	admin.Post("/logout", s.handleLogout)
	admin.Get("/operations", s.handleAdminOperations)
	admin.Get("/operations.csv", s.handleAdminOperationsCSV) // issue 13: "Export CSV" of the list
	admin.Post("/views", s.handleAdminViewSave)              // issue 13: saved views (the user's own)
	admin.Post("/views/delete", s.handleAdminViewDelete)
	admin.Get("/tenants", s.handleAdminTenants)
	admin.Get("/legacy/:table/:id", s.handleAdminLegacyRun)
	admin.Get("/operations/:run", s.handleAdminRun)
	admin.Get("/operations/:run/stream", s.handleAdminRunStream)
	admin.Get("/t/:tenant/operations", s.handleAdminTenantOperations)
	admin.Get("/t/:tenant/operations.csv", s.handleAdminTenantOperationsCSV) // issue 13
	admin.Post("/t/:tenant/operations/start", s.handleAdminStart)
	// Tenant pages over the modules' own tables (never Graph); the object URLs are the
	// hrefs operations.RelatedLinks gives a run's linked objects.
	admin.Get("/t/:tenant/inventory", s.handleAdminInventory)
	admin.Get("/t/:tenant/inventory/snapshots/:snapshot", s.handleAdminSnapshot)
	admin.Get("/t/:tenant/inventory/items/:type/:id", s.handleAdminInventoryItem) // issue 13 point 3
	admin.Get("/t/:tenant/directory", s.handleAdminDirectoryHome)
	admin.Get("/t/:tenant/directory/groups", s.handleAdminDirectory(groupsKind))
	admin.Get("/t/:tenant/directory/groups/:group", s.handleAdminGroup) // issue 13 point 3
	admin.Post("/t/:tenant/directory/groups/sync", s.handleAdminDirectorySync(groupsKind))
	admin.Get("/t/:tenant/directory/roles", s.handleAdminDirectory(rolesKind))
	admin.Post("/t/:tenant/directory/roles/sync", s.handleAdminDirectorySync(rolesKind))
	admin.Get("/t/:tenant/drift", s.handleAdminDrift)
	admin.Get("/t/:tenant/drift/:run", s.handleAdminDriftReport)
	// Backup schedules (issue 12 point 2), before /backups/:set takes "schedules".
	admin.Get("/t/:tenant/backups/schedules", s.handleAdminSchedules)
	admin.Post("/t/:tenant/backups/schedules", s.handleAdminScheduleCreate)
	admin.Get("/t/:tenant/backups/schedules/:schedule", s.handleAdminSchedule)
	admin.Post("/t/:tenant/backups/schedules/:schedule", s.handleAdminScheduleUpdate)
	admin.Post("/t/:tenant/backups/schedules/:schedule/enabled", s.handleAdminScheduleToggle)
	admin.Post("/t/:tenant/backups/schedules/:schedule/run", s.handleAdminScheduleStart(false))
	admin.Post("/t/:tenant/backups/schedules/:schedule/retry", s.handleAdminScheduleStart(true))
	admin.Get("/t/:tenant/backups", s.handleAdminBackups)
	admin.Post("/t/:tenant/backups", s.handleAdminBackupCreate) // a backup set from the latest inventory (issue 12 point 6)
	admin.Get("/t/:tenant/backups/:set", s.handleAdminBackupSet)
	admin.Get("/t/:tenant/backups/:set/items/:type/:id", s.handleAdminBackupItem)
	// Provider connections (issue 12 point 1, spec 216): pages and per-connection starts.
	admin.Get("/t/:tenant/provider-connections", s.handleAdminConnections)
	admin.Get("/t/:tenant/provider-connections/:connection", s.handleAdminConnection)
	admin.Post("/provider-connections/:connection/actions/:operation/start", s.handleAdminConnectionStart)
	// Onboarding (issue 12 point 4, spec 216, 086 T036): a new tenant, its verification, its sequential bootstrap.
	admin.Get("/onboarding", s.handleAdminOnboardingForm)
	admin.Post("/onboarding", s.handleAdminOnboardingNew)
	admin.Get("/onboarding/:session", s.handleAdminOnboarding)
	admin.Post("/onboarding/:session/provider-actions/:operation/start", s.handleAdminOnboardingVerify)
	admin.Post("/onboarding/:session/provider-bootstrap/start", s.handleAdminOnboardingBootstrap)
	// Restores (issue 12 point 3): a set's "Restore…", the restore page, its execute form.
	admin.Post("/t/:tenant/backups/:set/restore", s.handleAdminRestoreCreate)
	admin.Get("/t/:tenant/restores/:restore", s.handleAdminRestore)
	admin.Post("/t/:tenant/restores/:restore/execute", s.handleAdminRestoreExecute)
	// Alerts and the notifications inbox (issue 11 points 6, 7).
	admin.Get("/alerts", s.handleAdminAlerts)
	admin.Post("/alerts", s.handleAdminAlertCreate)
	admin.Get("/notifications", s.handleAdminNotifications)
	admin.Post("/notifications/read-all", s.handleAdminNotificationsReadAll)
	admin.Post("/notifications/:notification/read", s.handleAdminNotificationRead)
	// Compliance (issue 11 point 5): the audit log, its export, replay from events.
	admin.Get("/audit", s.handleAdminAudit)
	admin.Get("/audit/export", s.handleAuditExport)
	admin.Get("/audit/replay", s.handleAdminAuditReplay)

	// /system, the platform operators' panel: its own users, cookie (Path=/system) and
	// key; the login page is public, everything else needs a platform session, and each
	// page its capability (requirePlatform: 403 without it).
	s.app.Get("/system/login", s.handleSystemLoginForm)
	s.app.Post("/system/login", s.handleSystemLogin)
	system := s.app.Group("/system", s.requirePlatformSession)
	system.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/system/ops", fiber.StatusFound) })
	system.Post("/logout", s.handleSystemLogout)
	system.Get("/ops", s.requirePlatform(tenancy.PlatformOpsView), s.handleSystemHome)
	// Runbooks and their runs (spec 113; issue 11 points 2, 3).
	system.Get("/ops/runbooks", s.requirePlatform(tenancy.PlatformRunbooksView), s.handleSystemRunbooks)
	system.Post("/ops/runbooks/:runbook/preflight", s.requirePlatform(tenancy.PlatformRunbooksView), s.handleSystemRunbookPreflight)
	system.Post("/ops/runbooks/:runbook/run", s.requirePlatform(tenancy.PlatformRunbooksRun), s.handleSystemRunbookRun)
	system.Get("/ops/runs", s.requirePlatform(tenancy.PlatformOpsView), s.handleSystemRuns)
	system.Get("/ops/runs/:run", s.requirePlatform(tenancy.PlatformOpsView), s.handleSystemRun)
	system.Get("/ops/runs/:run/stream", s.requirePlatform(tenancy.PlatformOpsView), s.handleSystemRunStream)

	if s.deps.extraRoutes != nil {
		s.deps.extraRoutes(s.app)
	}
	s.app.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "no such route")
	})
}
