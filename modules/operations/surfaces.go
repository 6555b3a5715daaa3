package operations

// Surface is a set of places a run may be started from. The gate serves every surface;
// the generic surfaces (the hub's start form, the JSON API) ask CheckStart first and
// refuse a type the catalog does not start from them (ErrSurfaceNotAllowed).
type Surface uint8

// The start surfaces (seeds 001, 003, 004: a restore starts from its wizard after a
// preview and an explicit confirmation, a schedule's runs from its page or the
// scheduler, a platform runbook from its page after a preflight and a typed
// confirmation; none of these from a generic form or the generic API).
const (
	// SurfaceStartForm is the generic start form of a tenant's operations page.
	SurfaceStartForm Surface = 1 << iota
	// SurfaceAPI is POST /api/v1/tenants/{tenant}/operations/{type}/start.
	SurfaceAPI
	// SurfaceOwnPage is the type's own hub page (the directory pages' Sync now, the
	// Backups page's backup-set form, a schedule's page, the runbook page; the restore
	// wizard once it is built).
	SurfaceOwnPage
	// SurfaceScheduler is the backup scheduler (no user surface at all).
	SurfaceScheduler
	// SurfaceConnectionPage is a provider connection's hub page: its per-connection
	// starts (POST /admin/provider-connections/{connection}/actions/{operation}/start).
	SurfaceConnectionPage
	// SurfaceOnboarding is an onboarding session's page (/admin/onboarding/{session}):
	// its verification and its sequential bootstrap.
	SurfaceOnboarding
)

// startSurfaces are the catalog's start surfaces, by type (every type has some).
var startSurfaces = map[string]Surface{
	"inventory.sync":                  SurfaceStartForm | SurfaceAPI | SurfaceConnectionPage | SurfaceOnboarding,
	"directory.groups.sync":           SurfaceStartForm | SurfaceAPI | SurfaceOwnPage | SurfaceConnectionPage | SurfaceOnboarding,
	"directory.role_definitions.sync": SurfaceStartForm | SurfaceAPI | SurfaceOwnPage | SurfaceConnectionPage | SurfaceOnboarding,
	"drift.generate":                  SurfaceStartForm | SurfaceAPI,
	"provider.verify":                 SurfaceStartForm | SurfaceAPI | SurfaceConnectionPage | SurfaceOnboarding,
	// A backup names its policies in its context: the generic form sends none; the
	// tenant's Backups page has its own form picking them from the latest inventory.
	"backup_set.add_policies":     SurfaceAPI | SurfaceOwnPage | SurfaceOnboarding, // onboarding: the first backup
	"backup_schedule.run_now":     SurfaceOwnPage,
	"backup_schedule.retry":       SurfaceOwnPage,
	"backup_schedule.scheduled":   SurfaceScheduler,
	"restore.preview":             SurfaceOwnPage,
	"restore.execute":             SurfaceOwnPage,
	"findings.lifecycle.backfill": SurfaceOwnPage,
}

// StartSurfaces are where a run of the type may be started from.
func (t TypeInfo) StartSurfaces() Surface { return startSurfaces[t.Type] }

// StartsFrom reports whether a run of the type may be started from surface s.
func (t TypeInfo) StartsFrom(s Surface) bool { return t.StartSurfaces()&s != 0 }
