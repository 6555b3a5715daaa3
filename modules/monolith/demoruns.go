package monolith

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/graph/graphsim"
	"github.com/tenantatlas/ops/modules/inventory"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// DemoScheduleName names the backup schedule SeedDemoRuns gives each demo tenant; it
// is also the marker that the tenant's demo runs were made (a tenant that has it is
// left alone).
const DemoScheduleName = "Nightly backup (demo)"

// demoWorker names the seeding process in the RunStarted of the runs it works.
const demoWorker = "demo-seed"

// DemoRunsResult says what SeedDemoRuns did.
type DemoRunsResult struct {
	// Tenants is how many tenants got their demo runs (0 when every tenant had them).
	Tenants int
	// Runs are the runs made, in the order they ran.
	Runs []uuid.UUID
}

// SeedDemoRuns gives each demo tenant a history made by really running its operations
// against the demo Graph simulator, through the start gate as the demo owner and the
// modules' handlers (worked in this process, one after another): provider.verify,
// inventory.sync, directory.groups.sync, directory.role_definitions.sync, a second
// inventory.sync and drift.generate (no drift yet), then a change in the simulator
// (sim: one device configuration renamed, one compliance policy added), a third
// inventory.sync and drift.generate (findings), a backup_set.add_policies run over
// policies of the latest inventory, the tenant's backup schedule (DemoScheduleName,
// daily 02:00 Europe/Berlin: an event and an audit entry) and one run now of it. So
// every succeeded run has its object (snapshot, drift report, backup set). All runs
// are of today: the clock is not shifted. No restore is made (the restore flow is not
// built yet).
//
// a must be wired with the demo Graph (Options.Graph and DemoGraph), and sim must be
// the simulator that Graph client answers the demo host with. A tenant that already
// has the demo schedule is skipped, so running it again changes nothing.
func SeedDemoRuns(ctx context.Context, a *App, seed DemoSeed, sim *graphsim.Server) (DemoRunsResult, error) {
	var res DemoRunsResult
	if a.Provider == nil || sim == nil {
		return res, errors.New("demo runs: the app has no demo Graph")
	}
	owner, ok := seed.Users["owner"]
	if !ok {
		return res, errors.New("demo runs: the seed has no owner")
	}
	initiator := operations.Initiator{Kind: "user", UserID: owner.ID, Name: owner.Email}
	for _, dt := range seed.Tenants {
		t, err := a.Tenancy.Tenant(ctx, dt.ID)
		if err != nil {
			return res, fmt.Errorf("demo runs: tenant %s: %w", dt.Name, err)
		}
		done, err := hasDemoSchedule(ctx, a, t.ID)
		if err != nil {
			return res, err
		}
		if done {
			continue
		}
		runs, err := seedTenantRuns(ctx, a, t, initiator, sim)
		res.Runs = append(res.Runs, runs...)
		if err != nil {
			return res, fmt.Errorf("demo runs of %s: %w", t.Name, err)
		}
		res.Tenants++
	}
	return res, nil
}

func hasDemoSchedule(ctx context.Context, a *App, tenantID uuid.UUID) (bool, error) {
	scs, err := a.Backup.Schedules(ctx, tenantID)
	if err != nil {
		return false, fmt.Errorf("demo runs: schedules: %w", err)
	}
	for _, sc := range scs {
		if sc.Name == DemoScheduleName {
			return true, nil
		}
	}
	return false, nil
}

// seedTenantRuns makes one tenant's demo runs; it returns the runs made so far also
// on error.
func seedTenantRuns(ctx context.Context, a *App, t tenancy.Tenant, initiator operations.Initiator, sim *graphsim.Server) ([]uuid.UUID, error) {
	var made []uuid.UUID
	run := func(typ string, runCtx any) error {
		req := operations.StartRequest{Type: typ, TenantID: t.ID, Initiator: initiator, SourceSurface: "demo"}
		if runCtx != nil {
			b, err := json.Marshal(runCtx)
			if err != nil {
				return err
			}
			req.Context = b
		}
		out, err := a.Operations.Start(ctx, req)
		if err != nil {
			return fmt.Errorf("start %s: %w", typ, err)
		}
		id, err := workStarted(ctx, a, typ, out)
		if id != uuid.Nil {
			made = append(made, id)
		}
		return err
	}
	for _, typ := range []string{"provider.verify", "inventory.sync", "directory.groups.sync", "directory.role_definitions.sync",
		"inventory.sync", "drift.generate"} {
		if err := run(typ, nil); err != nil {
			return made, err
		}
	}
	// A backup of the device configurations as they are before the admin's change below,
	// which the demo's restore brings back at the end.
	before, err := demoBackupPolicies(ctx, a, t.ID, "deviceConfigurations", 0)
	if err != nil {
		return made, err
	}
	if err := run("backup_set.add_policies", backup.Context{Name: "Device configurations (before the change)", Policies: before}); err != nil {
		return made, err
	}
	beforeRun := made[len(made)-1]
	pc, err := a.Tenancy.DefaultConnection(ctx, t.ID)
	if err != nil {
		return made, fmt.Errorf("demo connection: %w", err)
	}
	changeDemoTenant(sim, pc.EntraTenantID)
	for _, typ := range []string{"inventory.sync", "drift.generate"} {
		if err := run(typ, nil); err != nil {
			return made, err
		}
	}
	policies, err := demoBackupPolicies(ctx, a, t.ID, "", 2)
	if err != nil {
		return made, err
	}
	if err := run("backup_set.add_policies", backup.Context{Name: "Key policies (demo)", Policies: policies}); err != nil {
		return made, err
	}
	name, cron, zone, types, retention := DemoScheduleName, "0 2 * * *", "Europe/Berlin", append([]string(nil), inventory.PolicyTypes...), 7
	sc, err := a.Backup.CreateSchedule(ctx, backup.Actor{ID: "user:" + initiator.UserID.String()}, t, backup.ScheduleInput{
		Name: &name, Cron: &cron, Timezone: &zone, PolicyTypes: &types, Retention: &retention})
	if err != nil {
		return made, fmt.Errorf("create the demo schedule: %w", err)
	}
	out, err := a.Backup.StartNowFrom(ctx, "demo", initiator, t.ID, sc.ID, "", false)
	if err != nil {
		return made, fmt.Errorf("run the demo schedule now: %w", err)
	}
	id, err := workStarted(ctx, a, "backup_schedule.run_now", out)
	if id != uuid.Nil {
		made = append(made, id)
	}
	if err != nil {
		return made, err
	}
	return restoreBefore(ctx, a, t, initiator, beforeRun, made)
}

// restoreBefore restores the backup set the run setRun made (the device configurations
// before the admin's change): its preview finds the edited one, and the execution,
// confirmed with the tenant's name, writes it back; both runs are appended to made.
func restoreBefore(ctx context.Context, a *App, t tenancy.Tenant, initiator operations.Initiator, setRun uuid.UUID, made []uuid.UUID) ([]uuid.UUID, error) {
	set, err := a.Backup.SetOfRun(ctx, setRun)
	if err != nil {
		return made, fmt.Errorf("demo restore: the backup set: %w", err)
	}
	r, out, err := a.Restore.Create(ctx, initiator, t.ID, set.ID, "demo")
	if err != nil {
		return made, fmt.Errorf("demo restore: %w", err)
	}
	id, err := workStarted(ctx, a, "restore.preview", out)
	if id != uuid.Nil {
		made = append(made, id)
	}
	if err != nil {
		return made, err
	}
	out, err = a.Restore.StartExecute(ctx, initiator, t.ID, r.ID, t.Name, uuid.NewString(), "demo")
	if err != nil {
		return made, fmt.Errorf("demo restore: execute: %w", err)
	}
	id, err = workStarted(ctx, a, "restore.execute", out)
	if id != uuid.Nil {
		made = append(made, id)
	}
	return made, err
}

// workStarted works an accepted run in this process until it ends (a run another
// process claimed first is waited for) and checks that it succeeded.
func workStarted(ctx context.Context, a *App, typ string, out operations.StartOutcome) (uuid.UUID, error) {
	if out.Status != operations.StartAccepted || out.Run == nil {
		return uuid.Nil, fmt.Errorf("start %s: %s: %s", typ, out.Status, out.OperatorMessage)
	}
	id := out.Run.ID
	claimed, err := a.Operations.Claim(ctx, operations.Job{RunID: id, Type: typ}, demoWorker)
	if err != nil {
		return id, fmt.Errorf("claim %s: %w", typ, err)
	}
	if claimed != nil {
		a.Operations.Execute(ctx, claimed, demoWorker)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := a.Operations.Load(ctx, id)
		if err != nil {
			return id, err
		}
		if r.Terminal() {
			if r.Outcome != operations.OutcomeSucceeded {
				return id, fmt.Errorf("%s ended %s: %s", typ, r.Outcome, r.Message)
			}
			return id, nil
		}
		if time.Now().After(deadline) {
			return id, fmt.Errorf("%s did not end within 2 minutes", typ)
		}
		select {
		case <-ctx.Done():
			return id, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// changeDemoTenant changes the tenant in the simulator as an admin would between two
// inventory syncs: a device configuration renamed, a compliance policy added.
func changeDemoTenant(sim *graphsim.Server, entraTenant string) {
	if dcs := sim.Objects(entraTenant, "deviceConfigurations"); len(dcs) > 0 {
		changed := dcs[0]
		changed["displayName"] = fmt.Sprint(changed["displayName"]) + " (edited)"
		sim.SetObject(entraTenant, "deviceConfigurations", changed)
	}
	sim.SetObject(entraTenant, "compliancePolicies", map[string]any{"id": "0de0c0de-0000-4000-8000-00000000c0a1",
		"displayName": "Require BitLocker (added)", "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "version": 1})
}

// demoBackupPolicies picks policies from the tenant's latest complete inventory
// snapshot: of policyType only (every type when ""), at most perType of each type (0:
// all).
func demoBackupPolicies(ctx context.Context, a *App, tenantID uuid.UUID, policyType string, perTypeMax int) ([]backup.PolicyRef, error) {
	snaps, err := a.Inventory.LatestComplete(ctx, tenantID, 1)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, errors.New("no complete inventory snapshot to back up from")
	}
	items, err := a.Inventory.AllItems(ctx, snaps[0].ID)
	if err != nil {
		return nil, err
	}
	perType := map[string]int{}
	var out []backup.PolicyRef
	for _, it := range items {
		if policyType != "" && it.PolicyType != policyType {
			continue
		}
		if perTypeMax == 0 || perType[it.PolicyType] < perTypeMax {
			perType[it.PolicyType]++
			out = append(out, backup.PolicyRef{Type: it.PolicyType, ID: it.PolicyID})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the latest inventory snapshot has no policies")
	}
	return out, nil
}
