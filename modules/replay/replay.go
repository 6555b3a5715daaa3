// Package replay reconstructs what TenantAtlas knew from the event log alone, for
// compliance: a run from its stream, a tenant as of a point in time, and the tenant's
// events as an export. It reads the sealed log (global order) and no read model.
//
// Layering (README.md, "Architecture: layers and imports"): floor 3, above the run module
// it rebuilds runs with (operations.RunFromEvents) and the tenancy events it folds; it
// imports the event store, failure, tenancy and operations. It reads the log, never a
// read model, so it must not import projections, modules/monolith, web or cmd/.
package replay

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/failure"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/tenancy"
)

// Event is one event of an export or a run replay.
type Event struct {
	Position      int64               `json:"position"`
	RecordedAt    time.Time           `json:"recordedAt"`
	StreamID      string              `json:"streamId"`
	StreamVersion int64               `json:"streamVersion"`
	Type          string              `json:"type"`
	Actor         string              `json:"actor"`
	Metadata      eventstore.Metadata `json:"metadata"`
	Data          any                 `json:"data"`
}

func eventOf(e eventstore.Envelope) Event {
	return Event{Position: e.Position, RecordedAt: e.RecordedAt, StreamID: string(e.StreamID), StreamVersion: e.StreamVersion,
		Type: e.Type, Actor: e.Metadata.Actor, Metadata: e.Metadata, Data: e.RawData}
}

// RunReplay is a run rebuilt from its events.
type RunReplay struct {
	Run    *operations.Run `json:"run"`
	Bucket string          `json:"bucket"`
	Events []Event         `json:"events"`
}

// Run rebuilds one run from its stream; operations.ErrNotFound when it has none.
func Run(ctx context.Context, store *eventstore.Store, id uuid.UUID) (RunReplay, error) {
	return RunAsOf(ctx, store, id, time.Time{})
}

// RunAsOf rebuilds one run from its events recorded at or before asOf (zero: all);
// operations.ErrNotFound when it had none by then.
func RunAsOf(ctx context.Context, store *eventstore.Store, id uuid.UUID, asOf time.Time) (RunReplay, error) {
	envs, err := store.ReadStream(ctx, operations.RunStream(id), 0)
	if err != nil {
		return RunReplay{}, err
	}
	if !asOf.IsZero() {
		envs = slices.DeleteFunc(envs, func(e eventstore.Envelope) bool { return e.RecordedAt.After(asOf) })
	}
	if len(envs) == 0 {
		return RunReplay{}, operations.ErrNotFound
	}
	run := operations.RunFromEvents(envs)
	out := RunReplay{Run: run, Bucket: string(run.Bucket())}
	for _, e := range envs {
		out.Events = append(out.Events, eventOf(e))
	}
	return out, nil
}

// TenantEvents calls fn with every sealed event of tenant recorded at or before asOf
// (zero: all), in global order. It reads the tenant's index (eventstore.ReadTenant), so
// it touches the tenant's events only, whatever the size of the log. progress, if set,
// is called per page with the events read so far.
func TenantEvents(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, asOf time.Time,
	fn func(eventstore.Envelope) error, progress func(read int64)) error {
	return walkSealed(ctx, store, func(pos int64) ([]eventstore.Envelope, error) {
		return store.ReadTenant(ctx, tenant, pos, asOf, 5000)
	}, nil, fn, progress)
}

// TenantEventsScan is TenantEvents by walking the whole sealed log in global order and
// keeping the tenant's events: what replay did before the tenant index. It stays for
// `atlas bench replay --scan`, the measured comparison, and as a check that the index
// misses nothing (the two must agree).
func TenantEventsScan(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, asOf time.Time,
	fn func(eventstore.Envelope) error, progress func(read int64)) error {
	return walkSealed(ctx, store, func(pos int64) ([]eventstore.Envelope, error) {
		return store.ReadAll(ctx, pos, 5000)
	}, func(e eventstore.Envelope) bool {
		return e.Metadata.TenantID == tenant && (asOf.IsZero() || !e.RecordedAt.After(asOf))
	}, fn, progress)
}

// walkSealed seals the committed events, then reads pages after each page's last
// position by page until an empty one, calling fn with every event keep accepts (nil:
// all) and progress, if set, with the events read so far.
func walkSealed(ctx context.Context, store *eventstore.Store, page func(pos int64) ([]eventstore.Envelope, error),
	keep func(eventstore.Envelope) bool, fn func(eventstore.Envelope) error, progress func(read int64)) error {
	if err := store.SealCommitted(ctx); err != nil {
		return err
	}
	var pos, read int64
	for {
		envs, err := page(pos)
		if err != nil {
			return err
		}
		if len(envs) == 0 {
			return nil
		}
		for _, e := range envs {
			if keep != nil && !keep(e) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		pos = envs[len(envs)-1].Position
		read += int64(len(envs))
		if progress != nil {
			progress(read)
		}
	}
}

// RunState is a run as it stood at a point in time.
type RunState struct {
	ID          uuid.UUID          `json:"id"`
	Type        string             `json:"type"`
	Status      operations.Status  `json:"status"`
	Outcome     operations.Outcome `json:"outcome"`
	Bucket      string             `json:"bucket"`
	Counts      operations.Counts  `json:"counts"`
	ReasonCode  failure.Code       `json:"reasonCode,omitempty"`
	Initiator   string             `json:"initiator"`
	QueuedAt    time.Time          `json:"queuedAt"`
	StartedAt   *time.Time         `json:"startedAt"`
	CompletedAt *time.Time         `json:"completedAt"`
}

// ConnectionState is a provider connection as it stood at a point in time.
type ConnectionState struct {
	ID           uuid.UUID                `json:"id"`
	DisplayName  string                   `json:"displayName"`
	Status       tenancy.ConnectionStatus `json:"status"`
	StatusReason string                   `json:"statusReason,omitempty"`
	GraphBaseURL string                   `json:"graphBaseUrl,omitempty"`
}

// TenantReplay is a tenant as the log knew it at AsOf.
type TenantReplay struct {
	TenantID    uuid.UUID         `json:"tenantId"`
	Name        string            `json:"name"`
	AsOf        time.Time         `json:"asOf"`
	Events      int               `json:"events"`
	Connections []ConnectionState `json:"connections"`
	Runs        []RunState        `json:"runs"`
}

// Tenant rebuilds a tenant's runs and provider connections from its events recorded at
// or before asOf. Runs are newest first.
func Tenant(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, asOf time.Time, progress func(read int64)) (TenantReplay, error) {
	return tenantFrom(ctx, store, tenant, asOf, progress, TenantEvents)
}

// TenantByScan is Tenant reading the whole log (TenantEventsScan) instead of the
// tenant's index: the before of the measured comparison (`atlas bench replay --scan`).
func TenantByScan(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, asOf time.Time, progress func(read int64)) (TenantReplay, error) {
	return tenantFrom(ctx, store, tenant, asOf, progress, TenantEventsScan)
}

// tenantEventsFunc reads a tenant's events: TenantEvents or TenantEventsScan.
type tenantEventsFunc func(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, asOf time.Time,
	fn func(eventstore.Envelope) error, progress func(read int64)) error

func tenantFrom(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, asOf time.Time, progress func(read int64), read tenantEventsFunc) (TenantReplay, error) {
	out := TenantReplay{TenantID: tenant, AsOf: asOf.UTC(), Connections: []ConnectionState{}, Runs: []RunState{}}
	runs := map[uuid.UUID]*operations.Run{}
	conns := map[uuid.UUID]*ConnectionState{}
	var connOrder []uuid.UUID
	err := read(ctx, store, tenant, asOf, func(e eventstore.Envelope) error {
		out.Events++
		switch ev := e.Data.(type) {
		case tenancy.TenantAdded:
			out.Name = ev.Name
		case tenancy.ProviderConnectionAdded:
			conns[ev.ConnectionID] = &ConnectionState{ID: ev.ConnectionID, DisplayName: ev.DisplayName, Status: ev.Status, GraphBaseURL: ev.GraphBaseURL}
			connOrder = append(connOrder, ev.ConnectionID)
		case tenancy.ProviderConnectionStatusChanged:
			if c := conns[ev.ConnectionID]; c != nil {
				c.Status, c.StatusReason = ev.To, ev.Reason
			}
		case tenancy.ProviderConnectionEndpointChanged:
			if c := conns[ev.ConnectionID]; c != nil {
				c.GraphBaseURL = ev.To
			}
		}
		if e.StreamType == operations.StreamType {
			id := e.StreamIDUUID()
			r := runs[id]
			if r == nil {
				r = &operations.Run{}
				runs[id] = r
			}
			r.Apply(e)
		}
		return nil
	}, progress)
	if err != nil {
		return TenantReplay{}, err
	}
	for _, id := range connOrder {
		out.Connections = append(out.Connections, *conns[id])
	}
	for _, r := range runs {
		if r.ID == uuid.Nil {
			continue
		}
		// Times to the microsecond, as the read models (timestamptz) keep them: a replay
		// compares equal to the hub's rows of the same instant.
		st := RunState{ID: r.ID, Type: r.Type, Status: r.Status, Outcome: r.Outcome, Bucket: string(r.Bucket()),
			Counts: r.Counts, ReasonCode: r.ReasonCode, Initiator: r.Initiator.Name, QueuedAt: r.QueuedAt.Truncate(time.Microsecond)}
		if st.Counts == nil {
			st.Counts = operations.Counts{}
		}
		if !r.StartedAt.IsZero() {
			at := r.StartedAt.Truncate(time.Microsecond)
			st.StartedAt = &at
		}
		if !r.CompletedAt.IsZero() {
			at := r.CompletedAt.Truncate(time.Microsecond)
			st.CompletedAt = &at
		}
		out.Runs = append(out.Runs, st)
	}
	slices.SortFunc(out.Runs, func(a, b RunState) int {
		if c := b.QueuedAt.Compare(a.QueuedAt); c != 0 {
			return c
		}
		return slices.Compare(b.ID[:], a.ID[:])
	})
	return out, nil
}

// Export calls fn with every event of tenant, in global order.
func Export(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, fn func(Event) error, progress func(read int64)) error {
	return TenantEvents(ctx, store, tenant, time.Time{}, func(e eventstore.Envelope) error { return fn(eventOf(e)) }, progress)
}
