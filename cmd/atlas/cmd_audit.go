package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/modules/monolith"
	"github.com/tenantatlas/ops/modules/operations"
	"github.com/tenantatlas/ops/modules/replay"
)

func runAuditVerify(ctx context.Context, env *cli, args []string) error {
	var quiet bool
	c, err := openCommand(ctx, env, "audit verify", args, 2, false, func(fs *flag.FlagSet) {
		fs.BoolVar(&quiet, "quiet", false, "print nothing but failures")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	store := eventstore.New(c.pool, eventstore.Options{Registry: monolith.Registry(), Logger: c.log})
	// Seal whatever has committed, so the walk covers the whole log.
	if err := store.SealCommitted(ctx); err != nil {
		return err
	}
	res, err := store.Verify(ctx, nil)
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("hash chain broken at global position %d: %s", res.FirstBad, res.Reason)
	}
	if !quiet {
		fmt.Fprintf(env.stdout, "ok: %d events verified, head position %d\n", res.Checked, res.Head)
	}
	return nil
}

// runAuditReplay reconstructs a run (--run ID) or a tenant as of a time (--tenant ID
// --as-of RFC3339) from the event log alone, and prints it for a person or, with
// --json, as JSON.
func runAuditReplay(ctx context.Context, env *cli, args []string) error {
	var runArg, tenantArg, asOfArg string
	var asJSON bool
	c, err := openCommand(ctx, env, "audit replay", args, 4, false, func(fs *flag.FlagSet) {
		fs.StringVar(&runArg, "run", "", "the run to replay")
		fs.StringVar(&tenantArg, "tenant", "", "the tenant to replay (with --as-of)")
		fs.StringVar(&asOfArg, "as-of", "", "RFC 3339 time: replay the tenant's events recorded up to then (default: now)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	store := eventstore.New(c.pool, eventstore.Options{Registry: monolith.Registry(), Logger: c.log})
	show := func(v any, text func()) error {
		if asJSON {
			enc := json.NewEncoder(env.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		text()
		return nil
	}
	switch {
	case runArg != "" && tenantArg == "" && asOfArg == "":
		id, err := uuid.Parse(runArg)
		if err != nil {
			return usageError{"--run must be a run id (UUID)"}
		}
		rp, err := replay.Run(ctx, store, id)
		if errors.Is(err, operations.ErrNotFound) {
			return fmt.Errorf("run %s has no events", id)
		}
		if err != nil {
			return err
		}
		return show(rp, func() {
			r := rp.Run
			fmt.Fprintf(env.stdout, "run %s  %s  %s/%s (%s)\n", r.ID, r.Type, r.Status, r.Outcome, rp.Bucket)
			fmt.Fprintf(env.stdout, "tenant %s  initiator %s  counts %v\n", r.TenantID, r.Initiator.Name, r.Counts)
			for _, e := range rp.Events {
				fmt.Fprintf(env.stdout, "  #%-8d %s  v%-3d %-22s %s\n", e.Position, e.RecordedAt.Format(time.RFC3339), e.StreamVersion, e.Type, e.Actor)
			}
		})
	case tenantArg != "" && runArg == "":
		id, err := uuid.Parse(tenantArg)
		if err != nil {
			return usageError{"--tenant must be a tenant id (UUID)"}
		}
		asOf := time.Now().UTC()
		if asOfArg != "" {
			if asOf, err = time.Parse(time.RFC3339, asOfArg); err != nil {
				return usageError{"--as-of must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z"}
			}
		}
		// The tenant's events only, through the tenant index: no progress bar over the
		// whole log (see README, "Compliance").
		tr, err := replay.Tenant(ctx, store, id, asOf, nil)
		if err != nil {
			return err
		}
		if tr.Events == 0 {
			return fmt.Errorf("no events of tenant %s up to %s", id, asOf.Format(time.RFC3339))
		}
		return show(tr, func() {
			fmt.Fprintf(env.stdout, "tenant %s %q as of %s: %d events, %d runs\n", tr.TenantID, tr.Name, tr.AsOf.Format(time.RFC3339), tr.Events, len(tr.Runs))
			for _, cn := range tr.Connections {
				fmt.Fprintf(env.stdout, "  connection %s %q: %s %s\n", cn.ID, cn.DisplayName, cn.Status, cn.StatusReason)
			}
			for _, r := range tr.Runs {
				fmt.Fprintf(env.stdout, "  run %s  %-32s %-10s %-20s queued %s\n", r.ID, r.Type, r.Status, r.Bucket, r.QueuedAt.Format(time.RFC3339))
			}
		})
	default:
		return usageError{"give --run ID, or --tenant ID [--as-of RFC3339]"}
	}
}

// runAuditExport writes every event of a tenant, in global order, as JSON Lines or CSV
// on stdout (the compliance export).
func runAuditExport(ctx context.Context, env *cli, args []string) error {
	var tenantArg, format string
	c, err := openCommand(ctx, env, "audit export", args, 4, false, func(fs *flag.FlagSet) {
		fs.StringVar(&tenantArg, "tenant", "", "the tenant whose events to export")
		fs.StringVar(&format, "format", "jsonl", "jsonl or csv")
	})
	if err != nil {
		return err
	}
	defer c.pool.Close()
	id, err := uuid.Parse(tenantArg)
	if err != nil {
		return usageError{"--tenant must be a tenant id (UUID)"}
	}
	if format != "jsonl" && format != "csv" {
		return usageError{"--format must be jsonl or csv"}
	}
	store := eventstore.New(c.pool, eventstore.Options{Registry: monolith.Registry(), Logger: c.log})
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	cw := csv.NewWriter(out)
	if format == "csv" {
		if err := cw.Write([]string{"position", "recorded_at", "stream_id", "stream_version", "type", "actor", "workspace_id", "tenant_id", "correlation_id", "data"}); err != nil {
			return err
		}
	}
	n := 0
	err = replay.Export(ctx, store, id, func(e replay.Event) error {
		n++
		if format == "jsonl" {
			return enc.Encode(e)
		}
		data, _ := e.Data.(json.RawMessage)
		return cw.Write([]string{strconv.FormatInt(e.Position, 10), e.RecordedAt.Format(time.RFC3339Nano), e.StreamID,
			strconv.FormatInt(e.StreamVersion, 10), e.Type, e.Actor, uuidText(e.Metadata.WorkspaceID), uuidText(e.Metadata.TenantID),
			uuidText(e.Metadata.CorrelationID), string(data)})
	}, nil)
	cw.Flush()
	if err != nil {
		return err
	}
	if err := cw.Error(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no events of tenant %s", id)
	}
	return nil
}

func uuidText(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}
