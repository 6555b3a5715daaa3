package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
)

// The statements of runner.sql for rebuilds and version swaps. The shadow-table DDL
// stays in Go below: it names the live, shadow and view identifiers of each table.
var (
	sqlInsertRebuildCheckpoint = sqlQueries.Get("InsertRebuildCheckpoint")
	sqlLockRebuildCheckpoint   = sqlQueries.Get("LockRebuildCheckpoint")
	sqlSetRebuildCheckpoint    = sqlQueries.Get("SetRebuildCheckpoint")
	sqlLiftTimeouts            = sqlQueries.Get("LiftTimeouts")
	sqlActiveVersion           = sqlQueries.Get("ActiveVersion")
	sqlActivateVersion         = sqlQueries.Get("ActivateVersion")
)

// rebuildBatch is the least number of events a rebuild applies per transaction.
const rebuildBatch = 10000

// RebuildProgress is reported while a rebuild runs.
type RebuildProgress struct {
	// Done is how many events have been applied to the shadow tables.
	Done int64
	// Total is the log's head when the rebuild started (it may grow meanwhile).
	Total int64
	// Elapsed is the time since the rebuild started.
	Elapsed time.Duration
}

// RebuildResult sums up a finished rebuild.
type RebuildResult struct {
	// Events is how many events were applied.
	Events int64
	// Duration is how long it took.
	Duration time.Duration
}

// Rebuild builds p again from position 0 into shadow tables while the serving tables
// keep answering reads (and keep being advanced by the runner), then swaps them in one
// transaction: the last events are applied to the shadow copy under the projection's
// checkpoint lock, the views are pointed at it, the old tables dropped, and the
// checkpoint set to where the shadow copy stands. Readers see either the old read
// model or the new one, never a mix.
func (r *Runner) Rebuild(ctx context.Context, p Projection, progress func(RebuildProgress)) (RebuildResult, error) {
	if b, ok := p.(bulkRebuilder); ok && len(p.Tables()) == 1 {
		return r.rebuildBulk(ctx, b, progress)
	}
	start := time.Now()
	head, err := r.store.Head(ctx)
	if err != nil {
		return RebuildResult{}, err
	}
	for _, t := range p.Tables() {
		next := shadow.Table(t.Name)
		// DDL stays in Go: it names the shadow and the live table, from Tables().
		if _, err := r.pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{next}.Sanitize()+`;
			CREATE TABLE `+pgx.Identifier{next}.Sanitize()+` (LIKE `+pgx.Identifier{t.Name}.Sanitize()+` INCLUDING ALL)`); err != nil {
			return RebuildResult{}, fmt.Errorf("projections: rebuild %s: shadow table: %w", p.Name(), err)
		}
	}
	var pos, done int64
	size := max(r.opts.BatchSize*4, rebuildBatch)
	// Bulk phase: a reader goroutine fetches and decodes the next pages while the
	// current one is applied, so reading the log and writing the shadow tables overlap.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	for pg := range r.readPages(readCtx, size) {
		if pg.err != nil {
			return RebuildResult{}, fmt.Errorf("projections: rebuild %s at %d: %w", p.Name(), pos, pg.err)
		}
		err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			if err := liftTimeouts(ctx, tx); err != nil {
				return err
			}
			return p.Apply(ctx, tx, shadow, pg.envs)
		})
		if err != nil {
			return RebuildResult{}, fmt.Errorf("projections: rebuild %s at %d: %w", p.Name(), pos, err)
		}
		pos = pg.envs[len(pg.envs)-1].Position
		done += int64(len(pg.envs))
		if progress != nil {
			progress(RebuildProgress{Done: done, Total: max(head, pos), Elapsed: time.Since(start)})
		}
	}
	if err := r.swap(ctx, p, pos, size, &done); err != nil {
		return RebuildResult{}, err
	}
	return RebuildResult{Events: done, Duration: time.Since(start)}, nil
}

// page is one page of the log read ahead by readPages.
type page struct {
	envs []eventstore.Envelope
	err  error
}

// readPages reads the sealed log from position 0 in pages of size on a goroutine of its
// own, at most two pages ahead of the consumer, until the end of the log, an error (the
// last page sent) or ctx's end.
func (r *Runner) readPages(ctx context.Context, size int) <-chan page {
	pages := make(chan page, 2)
	go func() {
		defer close(pages)
		var at int64
		for {
			envs, err := r.store.ReadAll(ctx, at, size)
			if err == nil && len(envs) == 0 {
				return
			}
			select {
			case pages <- page{envs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			at = envs[len(envs)-1].Position
		}
	}()
	return pages
}

// swap ends a rebuild whose shadow tables stand at pos: under the projection's
// checkpoint lock it applies the events that arrived since (pages of size, counted in
// done), points the views at the shadow tables, drops the old ones and sets the
// checkpoint.
func (r *Runner) swap(ctx context.Context, p Projection, pos int64, size int, done *int64) error {
	// The shadow tables were loaded in bulk and have no statistics yet: without them the
	// planner guesses, and the hub's filtered lists took 100+ ms at the 99th percentile
	// after a rebuild of 1M runs until autovacuum got round to them (2026-12-02).
	// ANALYZE samples (30,000 rows whatever the size), outside the swap's transaction;
	// the statistics follow the table through the rename.
	for _, t := range p.Tables() {
		if _, err := r.pool.Exec(ctx, `ANALYZE `+pgx.Identifier{shadow.Table(t.Name)}.Sanitize()); err != nil {
			return fmt.Errorf("projections: rebuild %s: analyze: %w", p.Name(), err)
		}
	}
	apply := func(tx pgx.Tx) (int, error) {
		envs, err := r.store.ReadAll(ctx, pos, size)
		if err != nil || len(envs) == 0 {
			return 0, err
		}
		if err := p.Apply(ctx, tx, shadow, envs); err != nil {
			return 0, err
		}
		pos = envs[len(envs)-1].Position
		*done += int64(len(envs))
		return len(envs), nil
	}
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if err := liftTimeouts(ctx, tx); err != nil {
			return err
		}
		// Hold the live checkpoint: the runner's next batch waits, then finds it moved.
		if _, err := tx.Exec(ctx, sqlInsertRebuildCheckpoint, p.Name(), p.Version()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlLockRebuildCheckpoint, p.Name(), p.Version()); err != nil {
			return err
		}
		for {
			n, err := apply(tx)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		for _, t := range p.Tables() {
			// The swap stays in Go: it names the view, the live and the shadow table.
			live, next, view := pgx.Identifier{t.Name}.Sanitize(), pgx.Identifier{shadow.Table(t.Name)}.Sanitize(), pgx.Identifier{t.View}.Sanitize()
			if _, err := tx.Exec(ctx, `DROP VIEW IF EXISTS `+view+`; DROP TABLE `+live+`;
				ALTER TABLE `+next+` RENAME TO `+live+`; CREATE VIEW `+view+` AS SELECT * FROM `+live); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, sqlSetRebuildCheckpoint, p.Name(), p.Version(), pos)
		return err
	})
	if err != nil {
		return fmt.Errorf("projections: rebuild %s: swap: %w", p.Name(), err)
	}
	return nil
}

// liftTimeouts turns off the connection's statement and idle-in-transaction timeouts
// for the rest of tx: a rebuild's batch over a big log, and its swap (which waits for
// the readers of the live tables and applies the last events while holding the
// checkpoint), may legitimately outlast the limits the app's connections set.
func liftTimeouts(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, sqlLiftTimeouts)
	return err
}

// ActiveVersion is the version of p whose tables the views serve (0 if none yet).
func (r *Runner) ActiveVersion(ctx context.Context, p Projection) (int, error) {
	var v int
	err := r.pool.QueryRow(ctx, sqlActiveVersion, p.Name()).Scan(&v)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("projections: active version of %s: %w", p.Name(), err)
	}
	return v, nil
}

// EnsureVersion brings a projection whose version changed (a new build ships version N
// while the views still serve an older one) up to date: the new version's tables are
// built from position 0 while the views keep serving the old ones, then swapped in and
// recorded as active. It does nothing when the active version is current.
func (r *Runner) EnsureVersion(ctx context.Context, p Projection) error {
	active, err := r.ActiveVersion(ctx, p)
	if err != nil || active == p.Version() {
		return err
	}
	r.log.Info("projection version changed: rebuilding", "projection", p.Name(), "from", active, "to", p.Version())
	res, err := r.Rebuild(ctx, p, nil)
	if err != nil {
		return err
	}
	if _, err := r.pool.Exec(ctx, sqlActivateVersion, p.Name(), p.Version()); err != nil {
		return fmt.Errorf("projections: activate %s v%d: %w", p.Name(), p.Version(), err)
	}
	r.log.Info("projection version swapped in", "projection", p.Name(), "version", p.Version(), "events", res.Events,
		"seconds", res.Duration.Seconds())
	return nil
}
