package backup_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/backup"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/monolith/monotest"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// clock is a settable clock shared by several services.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func ptr[T any](v T) *T { return &v }

// schedEnv is one database with a tenant (a working connection) and n apps over it,
// each on its own pool, all on one clock; no workers (runs stay queued until swept).
type schedEnv struct {
	apps   []*monolith.App
	clock  *clock
	tenant tenancy.Tenant
	owner  tenancy.User
	pool   *pgxpool.Pool
}

func newSchedEnv(t *testing.T, n int, at time.Time) *schedEnv {
	t.Helper()
	pool := pgtest.Fresh(t)
	url := pool.Config().ConnString()
	clk := &clock{t: at}
	e := &schedEnv{clock: clk, pool: pool}
	for i := range n {
		p := pool
		if i > 0 {
			var err error
			p, err = pgxpool.New(t.Context(), url)
			require.NoError(t, err)
			t.Cleanup(p.Close)
		}
		app := monolith.New(p, monolith.Options{BcryptCost: bcrypt.MinCost, Operations: operations.Options{Now: clk.Now}})
		app.Backup.SetClock(clk.Now)
		e.apps = append(e.apps, app)
	}
	ctx := t.Context()
	ten := e.apps[0].Tenancy
	ws, err := ten.CreateWorkspace(ctx, "system:test", "ws-"+uuid.NewString()[:8])
	require.NoError(t, err)
	e.tenant, err = ten.AddTenant(ctx, "system:test", ws.ID, "Contoso", uuid.NewString())
	require.NoError(t, err)
	_, err = ten.AddProviderConnection(ctx, "system:test", tenancy.ProviderConnection{TenantID: e.tenant.ID, Provider: "microsoft",
		DisplayName: "Graph", Status: tenancy.ConnectionOK, EntraTenantID: "contoso.onmicrosoft.com", ClientID: "client", SecretRef: "env:ATLAS_GRAPH_SECRET_X"})
	require.NoError(t, err)
	e.owner, err = ten.RegisterUser(ctx, "system:test", "owner-"+uuid.NewString()[:8]+"@example.test", "Owner", "correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, ten.GrantMembership(ctx, "system:test", tenancy.Membership{UserID: e.owner.ID, WorkspaceID: ws.ID, Role: tenancy.RoleOwner}))
	return e
}

func (e *schedEnv) create(t *testing.T, cron, zone string) backup.Schedule {
	t.Helper()
	sc, err := e.apps[0].Backup.CreateSchedule(t.Context(), backup.Actor{ID: "user:" + e.owner.ID.String()}, e.tenant,
		backup.ScheduleInput{Cron: &cron, Timezone: &zone, PolicyTypes: &[]string{"deviceConfigurations"}})
	require.NoError(t, err)
	return sc
}

// tickAll ticks every app at once and returns how many slots they started together.
func (e *schedEnv) tickAll(t *testing.T) int {
	t.Helper()
	var wg sync.WaitGroup
	counts := make([]int, len(e.apps))
	errs := make([]error, len(e.apps))
	for i, a := range e.apps {
		wg.Go(func() { counts[i], errs[i] = a.Backup.Tick(t.Context()) })
	}
	wg.Wait()
	total := 0
	for i := range counts {
		require.NoError(t, errs[i])
		total += counts[i]
	}
	return total
}

// endQueued ends the queued runs (as the sweeper does once they are stale), freeing
// the tenant's provider scope for the next slot.
func (e *schedEnv) endQueued(t *testing.T) {
	t.Helper()
	now := e.clock.Now()
	e.clock.Set(now.Add(time.Hour))
	_, err := e.apps[0].Operations.Sweep(t.Context())
	require.NoError(t, err)
	e.clock.Set(now)
}

// slots returns the scheduled-for times of the schedule's scheduled runs, in order, and
// how many runs of the type exist.
func (e *schedEnv) slots(t *testing.T, id uuid.UUID) ([]string, int) {
	t.Helper()
	rows, err := e.pool.Query(t.Context(), `SELECT scheduled_for FROM bk_schedule_runs WHERE schedule_id = $1 AND run_type = 'backup_schedule.scheduled' ORDER BY scheduled_for`, id)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var at time.Time
		require.NoError(t, rows.Scan(&at))
		out = append(out, at.UTC().Format(time.RFC3339))
	}
	require.NoError(t, rows.Err())
	var runs int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM ops_runs WHERE type = 'backup_schedule.scheduled'`).Scan(&runs))
	return out, runs
}

// TestScheduleValidationEventsAndAudit: a bad cron or zone names the field and records
// nothing; a create and an edit are events with an audit entry each (before/after); a
// disabled schedule has no next run, re-enabling computes it from now.
func TestScheduleValidationEventsAndAudit(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, 1, time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	svc, ctx := e.apps[0].Backup, t.Context()
	actor := backup.Actor{ID: "user:" + e.owner.ID.String(), IP: "203.0.113.7"}
	for in, field := range map[*backup.ScheduleInput]string{
		{Cron: ptr("61 * * * *"), Timezone: ptr("UTC"), PolicyTypes: &[]string{"deviceConfigurations"}}:                   "cron",
		{Cron: ptr("0 3 * * *"), Timezone: ptr("Mars/Olympus"), PolicyTypes: &[]string{"deviceConfigurations"}}:           "timezone",
		{Cron: ptr("0 3 * * *"), Timezone: ptr("Local"), PolicyTypes: &[]string{"deviceConfigurations"}}:                  "timezone",
		{Cron: ptr("0 3 * * *"), Timezone: ptr("UTC"), PolicyTypes: &[]string{"groups"}}:                                  "policyTypes",
		{Cron: ptr("0 3 * * *"), Timezone: ptr("UTC"), PolicyTypes: &[]string{}}:                                          "policyTypes",
		{Timezone: ptr("UTC"), PolicyTypes: &[]string{"deviceConfigurations"}}:                                            "cron",
		{Cron: ptr("0 3 * * *"), Timezone: ptr("UTC"), PolicyTypes: &[]string{"deviceConfigurations"}, Retention: ptr(0)}: "retention",
	} {
		_, err := svc.CreateSchedule(ctx, actor, e.tenant, *in)
		var ve *backup.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields, field)
		require.Len(t, ve.Fields, 1, ve.Error())
	}
	list, err := svc.Schedules(ctx, e.tenant.ID)
	require.NoError(t, err)
	require.Empty(t, list)

	sc, err := svc.CreateSchedule(ctx, actor, e.tenant, backup.ScheduleInput{Cron: ptr("30 2 * * *"), Timezone: ptr("Europe/Berlin"),
		PolicyTypes: &[]string{"settingsCatalogPolicies", "deviceConfigurations"}, Retention: ptr(3), Name: ptr("Nightly")})
	require.NoError(t, err)
	require.True(t, sc.Enabled)
	require.Equal(t, []string{"deviceConfigurations", "settingsCatalogPolicies"}, sc.PolicyTypes)
	require.Equal(t, time.Date(2026, 6, 2, 0, 30, 0, 0, time.UTC), *sc.NextRunAt, "02:30 CEST")

	disabled, err := svc.UpdateSchedule(ctx, actor, e.tenant, sc.ID, backup.ScheduleInput{Enabled: ptr(false)})
	require.NoError(t, err)
	require.False(t, disabled.Enabled)
	require.Nil(t, disabled.NextRunAt)
	_, err = svc.UpdateSchedule(ctx, actor, e.tenant, sc.ID, backup.ScheduleInput{Cron: ptr("nope")})
	var ve *backup.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Fields, "cron")
	other, err := e.apps[0].Tenancy.AddTenant(ctx, "system:test", e.tenant.WorkspaceID, "Fabrikam", uuid.NewString())
	require.NoError(t, err)
	_, err = svc.UpdateSchedule(ctx, actor, other, sc.ID, backup.ScheduleInput{Enabled: ptr(true)})
	require.ErrorIs(t, err, backup.ErrNotFound, "another tenant's schedule is not found")

	e.clock.Set(time.Date(2026, 6, 5, 12, 0, 0, 0, time.UTC))
	enabled, err := svc.UpdateSchedule(ctx, actor, e.tenant, sc.ID, backup.ScheduleInput{Enabled: ptr(true), Timezone: ptr("UTC")})
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 6, 6, 2, 30, 0, 0, time.UTC), *enabled.NextRunAt, "from now, in the new zone")
	same, err := svc.UpdateSchedule(ctx, actor, e.tenant, sc.ID, backup.ScheduleInput{Enabled: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, enabled.Version, same.Version, "no change, no event")

	var types []string
	rows, err := e.pool.Query(ctx, `SELECT event_type FROM es_events WHERE stream_id = $1 ORDER BY stream_version`, string(backup.ScheduleStream(sc.ID)))
	require.NoError(t, err)
	for rows.Next() {
		var typ string
		require.NoError(t, rows.Scan(&typ))
		types = append(types, typ)
	}
	require.Equal(t, []string{"BackupScheduleCreated", "BackupScheduleChanged", "BackupScheduleChanged"}, types)
	type entry struct {
		Action string          `json:"action"`
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
		IP     string          `json:"ip"`
	}
	rows, err = e.pool.Query(ctx, `SELECT data FROM es_events WHERE event_type = 'AuditRecorded' AND data->>'target' = $1 ORDER BY seq`,
		"backup_schedule:"+sc.ID.String())
	require.NoError(t, err)
	var entries []entry
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var en entry
		require.NoError(t, json.Unmarshal(raw, &en))
		entries = append(entries, en)
	}
	require.Len(t, entries, 3)
	require.Equal(t, []string{"backup_schedule.create", "backup_schedule.disable", "backup_schedule.enable"},
		[]string{entries[0].Action, entries[1].Action, entries[2].Action})
	require.Empty(t, entries[0].Before)
	require.JSONEq(t, `{"name":"Nightly","cron":"30 2 * * *","timezone":"Europe/Berlin","policyTypes":["deviceConfigurations","settingsCatalogPolicies"],"retention":3,"enabled":true}`, string(entries[0].After))
	require.JSONEq(t, string(entries[0].After), string(entries[1].Before))
	require.Contains(t, string(entries[1].After), `"enabled":false`)
	require.Contains(t, string(entries[2].After), `"timezone":"UTC"`)
	require.Equal(t, "203.0.113.7", entries[0].IP)
}

// TestThreeSchedulersOneRunPerSlot: three scheduler processes (separate pools) ticking
// at once over six hourly slots start exactly one run per slot.
func TestThreeSchedulersOneRunPerSlot(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 6, 1, 9, 59, 0, 0, time.UTC)
	e := newSchedEnv(t, 3, t0)
	sc := e.create(t, "0 * * * *", "UTC")
	require.Zero(t, e.tickAll(t), "nothing due yet")
	var want []string
	for h := 1; h <= 6; h++ {
		slot := time.Date(2026, 6, 1, 9+h, 0, 0, 0, time.UTC)
		e.clock.Set(slot.Add(10 * time.Second))
		require.Equal(t, 1, e.tickAll(t), "slot %s: one start among three processes", slot)
		require.Zero(t, e.tickAll(t), "a second round fires nothing")
		want = append(want, slot.Format(time.RFC3339))
		e.endQueued(t)
	}
	got, runs := e.slots(t, sc.ID)
	require.Equal(t, want, got)
	require.Equal(t, 6, runs)
	cur, err := e.apps[1].Backup.Schedule(t.Context(), e.tenant.ID, sc.ID)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 6, 1, 16, 0, 0, 0, time.UTC), *cur.NextRunAt)
	require.Zero(t, cur.SkippedSlots)
}

// TestSchedulerCatchUpAfterAnHourDown: a scheduler down for an hour fires only the
// latest missed slot and records the skipped ones once (an event and a count); slots
// after that fire normally.
func TestSchedulerCatchUpAfterAnHourDown(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 6, 1, 10, 0, 30, 0, time.UTC)
	e := newSchedEnv(t, 3, t0)
	sc := e.create(t, "*/10 * * * *", "UTC")
	// Down from 10:00:30 to 11:05: slots 10:10 … 11:00 were missed (six).
	e.clock.Set(time.Date(2026, 6, 1, 11, 5, 0, 0, time.UTC))
	require.Equal(t, 1, e.tickAll(t))
	require.Zero(t, e.tickAll(t))
	got, runs := e.slots(t, sc.ID)
	require.Equal(t, []string{"2026-06-01T11:00:00Z"}, got, "only the latest missed slot runs")
	require.Equal(t, 1, runs)
	cur, err := e.apps[0].Backup.Schedule(t.Context(), e.tenant.ID, sc.ID)
	require.NoError(t, err)
	require.EqualValues(t, 5, cur.SkippedSlots)
	require.Equal(t, time.Date(2026, 6, 1, 11, 10, 0, 0, time.UTC), *cur.NextRunAt)
	var raw []byte
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT data FROM es_events WHERE stream_id = $1 AND event_type = 'BackupScheduleSlotsSkipped'`,
		string(backup.ScheduleStream(sc.ID))).Scan(&raw))
	var ev backup.BackupScheduleSlotsSkipped
	require.NoError(t, json.Unmarshal(raw, &ev))
	require.EqualValues(t, 5, ev.Skipped)
	require.Equal(t, time.Date(2026, 6, 1, 10, 10, 0, 0, time.UTC), ev.First.UTC())
	require.Equal(t, time.Date(2026, 6, 1, 10, 50, 0, 0, time.UTC), ev.Last.UTC())
	require.Equal(t, time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC), ev.Fired.UTC())

	e.endQueued(t)
	e.clock.Set(time.Date(2026, 6, 1, 11, 10, 1, 0, time.UTC))
	require.Equal(t, 1, e.tickAll(t))
	got, _ = e.slots(t, sc.ID)
	require.Equal(t, []string{"2026-06-01T11:00:00Z", "2026-06-01T11:10:00Z"}, got)
}

// TestSchedulerAcrossDaylightSaving: Europe/Berlin `30 2 * * *`, ticked every ten
// minutes across both 2026 transitions, fires one run per day: on 03-29 at 03:00 CEST
// (02:30 does not exist), on 10-25 at the first 02:30.
func TestSchedulerAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from time.Time
		want []string
	}{
		{time.Date(2026, 3, 27, 23, 0, 0, 0, time.UTC), []string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{time.Date(2026, 10, 23, 23, 0, 0, 0, time.UTC), []string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
	} {
		t.Run(tc.from.Format("2006-01"), func(t *testing.T) {
			t.Parallel()
			e := newSchedEnv(t, 2, tc.from)
			sc := e.create(t, "30 2 * * *", "Europe/Berlin")
			for at := tc.from; at.Before(tc.from.Add(3 * 24 * time.Hour)); at = at.Add(10 * time.Minute) {
				e.clock.Set(at)
				if e.tickAll(t) > 0 {
					e.endQueued(t)
				}
			}
			got, runs := e.slots(t, sc.ID)
			require.Equal(t, tc.want, got)
			require.Equal(t, 3, runs)
		})
	}
}

// TestScheduleRunsBackUpRetainAndRetry: run now without an inventory fails, which
// offers Retry; after an inventory sync the retry backs up the schedule's policy types
// from the latest inventory; run-now clicks are one run per nonce (a double-submit is
// deduped) and retention keeps the newest two sets.
func TestScheduleRunsBackUpRetainAndRetry(t *testing.T) {
	t.Parallel()
	e := monotest.New(t, pgtest.Fresh(t), monotest.Options{})
	svc := e.App.Backup
	tn, err := e.App.Tenancy.Tenant(e.Ctx, e.Tenant)
	require.NoError(t, err)
	sc, err := svc.CreateSchedule(e.Ctx, backup.Actor{ID: "user:" + e.Operator.ID.String()}, tn, backup.ScheduleInput{Cron: ptr("0 3 * * *"),
		Timezone: ptr("UTC"), PolicyTypes: &[]string{"deviceConfigurations"}, Retention: ptr(2)})
	require.NoError(t, err)
	who := operations.Initiator{Kind: "user", UserID: e.Operator.ID, Name: e.Operator.Email}

	_, err = svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, uuid.NewString(), true)
	require.ErrorIs(t, err, backup.ErrRetryNotOffered, "no run yet: nothing to retry")
	out, err := svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, uuid.NewString(), false)
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
	run := e.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomeFailed, run.Outcome)
	require.Equal(t, operations.ReasonValidationFailed, run.ReasonCode)
	failed, err := svc.LastExecutionFailed(e.Ctx, sc.ID)
	require.NoError(t, err)
	require.True(t, failed)

	require.Equal(t, operations.OutcomeSucceeded, e.Run(t, "inventory.sync", `{}`).Outcome)
	retryNonce := uuid.NewString()
	out, err = svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, retryNonce, true)
	require.NoError(t, err)
	require.Equal(t, operations.StartAccepted, out.Status)
	run = e.Wait(t, out.Run.ID)
	require.Equal(t, operations.OutcomeSucceeded, run.Outcome, run.Message)
	dc := e.Sim.Objects(e.EntraTenant, "deviceConfigurations")
	require.EqualValues(t, len(dc), run.Counts["items"])
	set, err := svc.SetOfRun(e.Ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, len(dc), set.ItemCount)
	_, err = svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, uuid.NewString(), true)
	require.ErrorIs(t, err, backup.ErrRetryNotOffered, "the last run succeeded")

	var runIDs []uuid.UUID
	for i := range 2 {
		nonce := uuid.NewString()
		first, err := svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, nonce, false)
		require.NoError(t, err)
		require.Equal(t, operations.StartAccepted, first.Status, "click %d", i)
		again, err := svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, nonce, false)
		require.NoError(t, err)
		require.Equal(t, operations.StartDeduped, again.Status, "a double-submit of one form is one run")
		require.Equal(t, first.Run.ID, again.Run.ID)
		require.Equal(t, operations.OutcomeSucceeded, e.Wait(t, first.Run.ID).Outcome)
		late, err := svc.StartNow(e.Ctx, who, e.Tenant, sc.ID, nonce, false)
		require.NoError(t, err)
		require.Equal(t, operations.StartDeduped, late.Status, "also once the click's run has ended")
		runIDs = append(runIDs, first.Run.ID)
	}
	sets, err := svc.Sets(e.Ctx, e.Tenant, 50)
	require.NoError(t, err)
	require.Len(t, sets, 2, "retention keeps the newest two sets")
	for i, st := range sets {
		require.Equal(t, runIDs[len(runIDs)-1-i], st.RunID)
	}
	_, err = svc.SetOfRun(e.Ctx, run.ID)
	require.ErrorIs(t, err, backup.ErrNotFound, "the retry's set was deleted by retention")
	last := e.Wait(t, runIDs[1])
	require.EqualValues(t, 1, last.Counts["deleted"])

	ids, err := svc.ScheduleRunIDs(e.Ctx, sc.ID, 50)
	require.NoError(t, err)
	require.Len(t, ids, 4, "failed run now, retry, two run-now clicks")
	require.Equal(t, runIDs[1], ids[0])
}

// TestRunSchedulerFiresDueSlots: the loop monolith.Background runs fires a due slot on
// its own and stops with its context.
func TestRunSchedulerFiresDueSlots(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, 1, time.Date(2026, 6, 1, 9, 59, 0, 0, time.UTC))
	sc := e.create(t, "0 10 * * *", "UTC")
	e.clock.Set(time.Date(2026, 6, 1, 10, 0, 1, 0, time.UTC))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); e.apps[0].Backup.RunScheduler(ctx, 10*time.Millisecond) }()
	require.Eventually(t, func() bool {
		got, _ := e.slots(t, sc.ID)
		return len(got) == 1
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	got, runs := e.slots(t, sc.ID)
	require.Equal(t, []string{"2026-06-01T10:00:00Z"}, got)
	require.Equal(t, 1, runs)
}

// TestBlockedSlotIsNeverFiredAgain: a slot the gate blocks (consent missing) is one
// blocked run; a scheduler that fires it again (it died before advancing the schedule)
// gets that run back, deduped, and starts nothing.
func TestBlockedSlotIsNeverFiredAgain(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, 2, time.Date(2026, 6, 1, 9, 59, 0, 0, time.UTC))
	ctx := t.Context()
	conn, err := e.apps[0].Tenancy.DefaultConnection(ctx, e.tenant.ID)
	require.NoError(t, err)
	require.NoError(t, e.apps[0].Tenancy.SetConnectionStatus(ctx, "system:test", conn.ID, tenancy.ConnectionConsentMissing, "test"))
	sc := e.create(t, "0 10 * * *", "UTC")
	e.clock.Set(time.Date(2026, 6, 1, 10, 0, 1, 0, time.UTC))
	require.Equal(t, 1, e.tickAll(t))
	var outcome string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT outcome FROM ops_runs WHERE type = 'backup_schedule.scheduled'`).Scan(&outcome))
	require.Equal(t, "blocked", outcome)
	// As if the process had died before advancing the schedule.
	_, err = e.pool.Exec(ctx, `UPDATE bk_schedules SET next_run_at = $2 WHERE schedule_id = $1`, sc.ID, time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Zero(t, e.tickAll(t), "the blocked slot is not fired again")
	got, runs := e.slots(t, sc.ID)
	require.Equal(t, []string{"2026-06-01T10:00:00Z"}, got)
	require.Equal(t, 1, runs)
	cur, err := e.apps[0].Backup.Schedule(ctx, e.tenant.ID, sc.ID)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC), *cur.NextRunAt, "advanced past the slot")
}
