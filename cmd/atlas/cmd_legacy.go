package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tenantatlas/ops/modules/legacy"
)

// runLegacyImport imports a JSON Lines file of legacy run rows (CONTRACT.md): rows with
// an operationRunId are linked to that run (kept as read-only history of their tenant
// when that run does not exist or is another tenant's), the others become imported
// runs. Every line is parsed before anything is written (a malformed line names its
// number and nothing is imported); rows the import refuses (unknown tenant) are listed
// and make the exit code 1, the others are imported. Importing the same file again
// changes nothing.
func runLegacyImport(ctx context.Context, env *cli, args []string) error {
	c, err := openCommand(ctx, env, "legacy import", args, 4, true, nil)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if len(c.args) != 1 {
		return usageError{"name one JSON Lines file"}
	}
	raw, err := os.ReadFile(c.args[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", c.args[0], errors.Unwrap(err))
	}
	var rows []legacy.Row
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		row, err := legacy.ParseLine(line)
		if err != nil {
			return fmt.Errorf("line %d: not a legacy run row: %v (nothing was imported)", n, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", c.args[0], err)
	}
	im := newApp(c.pool, c.log).Legacy
	start := time.Now()
	results := map[legacy.Result]int{}
	var refused []string
	for i, row := range rows {
		res, err := im.Import(ctx, row)
		switch {
		case errors.Is(err, legacy.ErrRow):
			refused = append(refused, err.Error())
		case err != nil:
			return err
		default:
			results[res]++
		}
		if (i+1)%500 == 0 || i+1 == len(rows) {
			countBar(env.stderr, "legacy", int64(i+1), int64(len(rows)), time.Since(start), "rows")
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(env.stderr)
	}
	for _, r := range refused {
		fmt.Fprintln(env.stderr, "refused:", r)
	}
	fmt.Fprintf(env.stdout, "legacy import: %d rows: %d imported, %d linked, %d history only, %d unchanged, %d refused\n", len(rows),
		results[legacy.Imported], results[legacy.Linked], results[legacy.Recorded], results[legacy.Unchanged], len(refused))
	if len(refused) > 0 {
		return fmt.Errorf("%d row(s) refused (listed above); the others were imported", len(refused))
	}
	return nil
}
