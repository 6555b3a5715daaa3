package historygen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
)

// Spec says what history Generate writes.
type Spec struct {
	// WorkspaceID and TenantIDs are where the runs belong (runs go round-robin over tenants).
	WorkspaceID uuid.UUID
	TenantIDs   []uuid.UUID
	// Initiator started the runs.
	Initiator operations.Initiator
	// Runs is how many runs to write.
	Runs int
	// End is the newest queued time; runs are spread evenly over Span before it.
	End  time.Time
	Span time.Duration
	// Seed makes the history reproducible.
	Seed uint64
	// Writers append in parallel, BatchRuns runs per transaction (0: 4 and 500).
	Writers, BatchRuns int
	// Progress is called (from any writer) with the number of runs written so far.
	Progress func(done int64)
}

// historyOutcomes is the mix of outcomes, in per-mille.
var historyOutcomes = []struct {
	outcome operations.Outcome
	permil  int
	reason  failure.Code
	msg     string
}{
	{operations.OutcomeSucceeded, 820, "", ""},
	{operations.OutcomePartiallySucceeded, 60, "", ""},
	{operations.OutcomeFailed, 80, failure.GraphThrottled, "Microsoft Graph kept answering 429 Too Many Requests."},
	{operations.OutcomeBlocked, 30, failure.ProviderConsentMissing, "Admin consent has not been granted for the app."},
	{operations.OutcomeCancelled, 10, "", "Cancelled by an operator."},
}

// historyTypes are the tenant-scoped run types history is made of.
func historyTypes() []string {
	var out []string
	for _, t := range operations.Types() {
		if !t.WorkspaceScoped {
			out = append(out, t.Type)
		}
	}
	return out
}

// historicRun is run i of spec: deterministic in (spec.Seed, i).
func historicRun(spec Spec, types []string, i int) Run {
	r := rand.New(rand.NewPCG(spec.Seed, uint64(i)))
	step := spec.Span / time.Duration(max(spec.Runs, 1))
	queued := spec.End.Add(-spec.Span + time.Duration(i)*step + time.Duration(r.Int64N(int64(max(step, 1)))))
	started := queued.Add(time.Duration(200+r.IntN(3000)) * time.Millisecond)
	completed := started.Add(time.Duration(2+r.IntN(600)) * time.Second)
	var idBytes [16]byte
	for j := range idBytes {
		idBytes[j] = byte(r.Uint32())
	}
	id, _ := uuid.FromBytes(idBytes[:])
	id[6] = (id[6] & 0x0f) | 0x40 // a version 4 UUID
	id[8] = (id[8] & 0x3f) | 0x80
	h := Run{ID: id, Type: types[r.IntN(len(types))], WorkspaceID: spec.WorkspaceID,
		TenantID: spec.TenantIDs[i%len(spec.TenantIDs)], Initiator: spec.Initiator,
		QueuedAt: queued, StartedAt: started, CompletedAt: completed}
	pick := r.IntN(1000)
	for _, o := range historyOutcomes {
		if pick < o.permil {
			h.Outcome, h.ReasonCode, h.Message = o.outcome, o.reason, o.msg
			break
		}
		pick -= o.permil
	}
	total := int64(1 + r.IntN(400))
	switch h.Outcome {
	case operations.OutcomeSucceeded:
		h.Counts = operations.Counts{"total": total, "processed": total, "succeeded": total}
	case operations.OutcomePartiallySucceeded:
		failed := 1 + total/10
		h.Counts = operations.Counts{"total": total + failed, "processed": total + failed, "succeeded": total, "failed": failed}
		h.Failures = []failure.Entry{{ReasonCode: failure.ItemFailed, Message: "One policy could not be read."}}
	case operations.OutcomeFailed:
		h.Counts = operations.Counts{"total": total, "processed": total / 2}
	case operations.OutcomeBlocked:
		h.StartedAt, h.CompletedAt = time.Time{}, queued
	}
	h.Context = historicContext(spec, h.Type, i)
	return h
}

// historyPolicyTypes are the policy types a historic inventory sync is asked for.
var historyPolicyTypes = []string{"deviceConfiguration", "deviceCompliancePolicy", "settingsCatalogPolicy",
	"appProtectionPolicy", "conditionalAccessPolicy", "windowsUpdateRing"}

// historicContext is the start context of run i (of type typ), valid for the type's
// schema and derived from i alone (the run's random draws stay as they were): an
// inventory sync asks for one policy type, a backup schedule's run names one of its
// tenant's three schedules, a drift generation one of ten baselines; nil ({}) otherwise.
// A search by context then has something to find (atlas bench list).
func historicContext(spec Spec, typ string, i int) json.RawMessage {
	n := len(spec.TenantIDs)
	switch typ {
	case "inventory.sync":
		return json.RawMessage(fmt.Sprintf(`{"policyTypes":[%q]}`, historyPolicyTypes[(i/n)%len(historyPolicyTypes)]))
	case "backup_schedule.run_now", "backup_schedule.retry", "backup_schedule.scheduled":
		return json.RawMessage(fmt.Sprintf(`{"scheduleId":%q}`, HistoricScheduleID(spec.TenantIDs[i%n], (i/n)%3)))
	case "drift.generate":
		return json.RawMessage(fmt.Sprintf(`{"baseline":"baseline-%d"}`, (i/n)%10))
	}
	return nil
}

// HistoricScheduleID is the id of schedule k (0..2) of tenant in generated history.
func HistoricScheduleID(tenant uuid.UUID, k int) uuid.UUID {
	return uuid.NewSHA1(tenant, []byte(fmt.Sprintf("historygen schedule %d", k)))
}

// Generate writes spec.Runs finished runs with Append over pool (several writers, many
// runs per transaction). The same spec writes the same runs, so a second call fails on the
// first existing stream instead of writing doubles.
func Generate(parent context.Context, pool *pgxpool.Pool, store *eventstore.Store, spec Spec) error {
	if len(spec.TenantIDs) == 0 || spec.Runs <= 0 {
		return fmt.Errorf("history: need tenants and a positive number of runs")
	}
	if spec.Writers <= 0 {
		spec.Writers = 4
	}
	if spec.BatchRuns <= 0 {
		spec.BatchRuns = 500
	}
	if spec.Span <= 0 {
		spec.Span = 90 * 24 * time.Hour
	}
	if spec.End.IsZero() {
		spec.End = time.Now()
	}
	types := historyTypes()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, spec.Writers)
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	for range spec.Writers {
		wg.Go(func() {
			for ctx.Err() == nil {
				from := int(next.Add(int64(spec.BatchRuns))) - spec.BatchRuns
				if from >= spec.Runs {
					return
				}
				to := min(from+spec.BatchRuns, spec.Runs)
				runs := make([]Run, 0, to-from)
				for i := from; i < to; i++ {
					runs = append(runs, historicRun(spec, types, i))
				}
				if err := Append(ctx, pool, store, runs); err != nil {
					errs <- err
					cancel()
					return
				}
				n := done.Add(int64(len(runs)))
				if spec.Progress != nil {
					spec.Progress(n)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return parent.Err()
}
