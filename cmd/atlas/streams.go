package main

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/projections"
	"github.com/tenantatlas/ops/web"
)

// streamConfig is the run viewer's live stream of `atlas serve`: one run change
// listener for the process, capped by ATLAS_MAX_STREAMS (per process) and
// ATLAS_MAX_STREAMS_PER_USER.
func streamConfig(env *cli, pool *pgxpool.Pool, log *slog.Logger) (web.StreamConfig, error) {
	cfg := web.StreamConfig{Changes: projections.NewRunChanges(pool, log)}
	for _, v := range []struct {
		name string
		dst  *int
	}{{"ATLAS_MAX_STREAMS", &cfg.MaxOpen}, {"ATLAS_MAX_STREAMS_PER_USER", &cfg.MaxPerUser}} {
		s := env.getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return web.StreamConfig{}, fmt.Errorf("%s must be a whole number from 1 to 1000000, got %q", v.name, s)
		}
		*v.dst = n
	}
	return cfg, nil
}
