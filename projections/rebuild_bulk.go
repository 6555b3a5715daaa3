package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantatlas/ops/eventstore"
)

var sqlShadowIndexes = sqlQueries.Get("ShadowIndexes")

// BulkPage is how many events a bulk rebuild reads per page of the log.
const BulkPage = 20000

// bulkLateMax bounds the late events (see bulkFold.fold) a bulk rebuild holds before it
// applies them to the shadow table; past it the primary key is made early, so the
// rebuild's memory stays bounded however many there are.
const bulkLateMax = 50000

// bulkRebuilder is a one-table projection whose rebuild need not replay the log through
// Apply: it folds the events in memory and hands out rows once they are final, which the
// rebuild loads with COPY into a shadow table without indexes; the indexes (primary key
// included) are made after the load, then the shadow table is swapped in as Rebuild does.
type bulkRebuilder interface {
	Projection
	newBulkFold(hold int64) bulkFold
}

// bulkFold folds the log from position 0, in global order, into the rows of one table.
// It holds only rows that may still change (a run that has not ended), so its memory
// does not grow with the log.
type bulkFold interface {
	// columns are the table's columns, in the order of the rows take hands out.
	columns() []string
	// fold takes the next event. It returns false for a late event: one of a row it has
	// handed out already (or of none it knows); the rebuild applies those afterwards with
	// Apply, on the loaded table.
	fold(e eventstore.Envelope) (bool, error)
	// take hands out the final rows held and forgets them: at least least of them (none
	// otherwise), or with all every row held (the end of the log).
	take(least int, all bool) ([][]any, error)
}

// BulkStats are the phases of the last bulk rebuild (for `atlas bench rebuild`).
type BulkStats struct {
	// Load is reading, folding and COPYing the log; Indexes is making the indexes after
	// it; Late is applying late events; Swap is the final catch-up and swap.
	Load, Indexes, Late, Swap time.Duration
	// Rows is how many rows were COPYed; LateEvents how many events were applied late.
	Rows, LateEvents int64
}

// bulkCopyRows is how many final rows one COPY writes.
const bulkCopyRows = 10000

// bulkHold is how many events of the log a bulk rebuild goes on holding a row for after
// it has become final (events that follow soon after, like a run's completion notice,
// are folded in memory instead of applied late).
const bulkHold = 100000

// bulkSizes are a bulk rebuild's page size, rows per COPY, most late events held and
// events a final row is held for (hold is -1 for none).
type bulkSizes struct{ page, copyRows, lateMax, hold int }

// override takes the sizes o sets.
func (s *bulkSizes) override(o bulkSizes) {
	for _, f := range []struct{ dst, src *int }{{&s.page, &o.page}, {&s.copyRows, &o.copyRows}, {&s.lateMax, &o.lateMax}, {&s.hold, &o.hold}} {
		if *f.src != 0 {
			*f.dst = *f.src
		}
	}
}

// copier COPYs batches of rows into a table on a goroutine of its own, one batch
// queued at most, so folding and writing overlap.
type copier struct {
	rows chan [][]any
	done chan error
	n    int64
}

func (r *Runner) startCopier(ctx context.Context, table string, cols []string) *copier {
	c := &copier{rows: make(chan [][]any, 1), done: make(chan error, 1)}
	go func() {
		var err error
		for rows := range c.rows {
			if err != nil {
				continue // drain: the producer learns of the error at wait
			}
			var n int64
			n, err = r.pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			c.n += n
		}
		c.done <- err
	}()
	return c
}

// wait ends the copier and returns its first error.
func (c *copier) wait() error {
	close(c.rows)
	return <-c.done
}

// rebuildBulk is Rebuild for a bulkRebuilder.
func (r *Runner) rebuildBulk(ctx context.Context, p bulkRebuilder, progress func(RebuildProgress)) (RebuildResult, error) {
	start := time.Now()
	var st BulkStats
	head, err := r.store.Head(ctx)
	if err != nil {
		return RebuildResult{}, err
	}
	fail := func(what string, err error) (RebuildResult, error) {
		return RebuildResult{}, fmt.Errorf("projections: rebuild %s: %s: %w", p.Name(), what, err)
	}
	next := shadow.Table(p.Tables()[0].Name)
	ident := pgx.Identifier{next}.Sanitize()
	// DDL stays in Go: it names the shadow and the live table. The shadow copy starts
	// with every index of the live table, which are noted and dropped for the load.
	if _, err := r.pool.Exec(ctx, `DROP TABLE IF EXISTS `+ident+`;
		CREATE TABLE `+ident+` (LIKE `+pgx.Identifier{p.Tables()[0].Name}.Sanitize()+` INCLUDING ALL)`); err != nil {
		return fail("shadow table", err)
	}
	var drops, makes []string
	var primary []bool
	rows, err := r.pool.Query(ctx, sqlShadowIndexes, next)
	if err != nil {
		return fail("shadow indexes", err)
	}
	for rows.Next() {
		var d, m string
		var pk bool
		if err := rows.Scan(&d, &m, &pk); err != nil {
			rows.Close()
			return fail("shadow indexes", err)
		}
		drops, makes, primary = append(drops, d), append(makes, m), append(primary, pk)
	}
	if rows.Err() != nil {
		return fail("shadow indexes", rows.Err())
	}
	for _, d := range drops {
		if _, err := r.pool.Exec(ctx, d); err != nil {
			return fail("shadow indexes", err)
		}
	}
	made := make([]bool, len(makes))
	makeIndexes := func(pkOnly bool) error {
		return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			if err := liftTimeouts(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
				return err
			}
			for i, m := range makes {
				if made[i] || (pkOnly && !primary[i]) {
					continue
				}
				if _, err := tx.Exec(ctx, m); err != nil {
					return err
				}
				made[i] = true
			}
			return nil
		})
	}
	applyLate := func(late []eventstore.Envelope) error {
		for len(late) > 0 {
			n := min(len(late), rebuildBatch)
			err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
				if err := liftTimeouts(ctx, tx); err != nil {
					return err
				}
				return p.Apply(ctx, tx, shadow, late[:n])
			})
			if err != nil {
				return err
			}
			st.LateEvents += int64(n)
			late = late[n:]
		}
		return nil
	}

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	sizes := bulkSizes{page: BulkPage, copyRows: bulkCopyRows, lateMax: bulkLateMax, hold: bulkHold}
	sizes.override(r.opts.bulk)
	fold := p.newBulkFold(int64(max(sizes.hold, 0)))
	cols := fold.columns()
	cp := r.startCopier(readCtx, next, cols)
	var copied int64
	var late []eventstore.Envelope
	var pos, done int64
	for pg := range r.readPages(readCtx, sizes.page) {
		if pg.err == nil {
			for _, e := range pg.envs {
				ok, err := fold.fold(e)
				if err != nil {
					pg.err = err
					break
				}
				if !ok {
					late = append(late, e)
				}
			}
		}
		var batch [][]any
		if pg.err == nil {
			batch, pg.err = fold.take(sizes.copyRows, false)
		}
		if pg.err != nil {
			stopReading()
			_ = cp.wait()
			return fail(fmt.Sprintf("at %d", pos), pg.err)
		}
		if len(batch) > 0 {
			cp.rows <- batch
		}
		pos = pg.envs[len(pg.envs)-1].Position
		done += int64(len(pg.envs))
		if len(late) >= sizes.lateMax {
			// Many late events: load what is final, make the primary key (the upserts
			// need it) and apply them now rather than hold them.
			err := cp.wait()
			copied += cp.n
			if err == nil {
				err = makeIndexes(true)
			}
			if err == nil {
				err = applyLate(late)
			}
			if err != nil {
				return fail(fmt.Sprintf("late events at %d", pos), err)
			}
			late = nil
			cp = r.startCopier(readCtx, next, cols)
		}
		if progress != nil {
			progress(RebuildProgress{Done: done, Total: max(head, pos), Elapsed: time.Since(start)})
		}
	}
	last, err := fold.take(0, true)
	if err != nil {
		_ = cp.wait()
		return fail("last rows", err)
	}
	if len(last) > 0 {
		cp.rows <- last
	}
	if err := cp.wait(); err != nil {
		return fail("copy", err)
	}
	copied += cp.n
	st.Rows = copied
	st.Load = time.Since(start)
	t := time.Now()
	if err := makeIndexes(false); err != nil {
		return fail("indexes", err)
	}
	st.Indexes = time.Since(t)
	t = time.Now()
	if err := applyLate(late); err != nil {
		return fail("late events", err)
	}
	st.Late = time.Since(t)
	t = time.Now()
	if err := r.swap(ctx, p, pos, sizes.page, &done); err != nil {
		return RebuildResult{}, err
	}
	st.Swap = time.Since(t)
	r.lastBulk.Store(&st)
	return RebuildResult{Events: done, Duration: time.Since(start)}, nil
}

// LastBulkStats returns the phases of the runner's last finished bulk rebuild (false if
// there was none).
func (r *Runner) LastBulkStats() (BulkStats, bool) {
	st := r.lastBulk.Load()
	if st == nil {
		return BulkStats{}, false
	}
	return *st, true
}
