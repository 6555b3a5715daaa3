package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/modules/monolith"
)

// Server-side limits of the app's connections, and their defaults.
const (
	defaultStatementTimeout = 30 * time.Second
	defaultIdleTxTimeout    = 60 * time.Second
)

// longCommands run statements that may legitimately take minutes (a migration over a
// big table, a rebuild's swap, an export or a walk of the whole log, a big legacy file,
// the benchmarks' bulk loads): their connections run without a statement timeout. The
// idle-in-transaction timeout stays.
var longCommands = map[string]bool{"migrate": true, "projections rebuild": true,
	"audit verify": true, "audit replay": true, "audit export": true, "legacy import": true,
	"bench seed": true, "bench rebuild": true, "bench list": true, "bench lag": true, "bench http": true}

// dbTimeouts are set on every connection of a pool (pgx RuntimeParams): a statement
// running longer than statement is cancelled, and a session idle inside a transaction
// longer than idleInTx is ended by the server, so a stuck client cannot hold the seal
// horizon (see eventstore.Seal) or row locks for ever. 0 turns a limit off.
type dbTimeouts struct {
	statement, idleInTx time.Duration
}

// dbTimeoutsFor reads ATLAS_STATEMENT_TIMEOUT and ATLAS_IDLE_TX_TIMEOUT (Go durations,
// 0 for off) for command; a long command (longCommands) gets no statement timeout.
func dbTimeoutsFor(env *cli, command string) (dbTimeouts, error) {
	var t dbTimeouts
	var err error
	if t.statement, err = envDuration(env, "ATLAS_STATEMENT_TIMEOUT", defaultStatementTimeout); err != nil {
		return t, err
	}
	if t.idleInTx, err = envDuration(env, "ATLAS_IDLE_TX_TIMEOUT", defaultIdleTxTimeout); err != nil {
		return t, err
	}
	if longCommands[command] {
		t.statement = 0
	}
	return t, nil
}

// apply sets the timeouts as run-time parameters of every connection the pool opens.
func (t dbTimeouts) apply(cfg *pgxpool.Config) {
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(t.statement.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(t.idleInTx.Milliseconds(), 10)
}

// envDuration parses the environment variable name as a Go duration (def when unset).
func envDuration(env *cli, name string, def time.Duration) (time.Duration, error) {
	v := env.getenv(name)
	if v == "" {
		return def, nil
	}
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (d > 0 && d < time.Millisecond) {
		return 0, usageError{fmt.Sprintf("invalid %s %q: want a duration such as 30s (0 turns it off)", name, v)}
	}
	return d, nil
}

// stallThreshold is ATLAS_STALL_THRESHOLD: how long sealing or a projection may stand
// still with work waiting before /readyz answers 503. An invalid value is logged and
// the default used.
func stallThreshold(env *cli, log *slog.Logger) time.Duration {
	d, err := envDuration(env, "ATLAS_STALL_THRESHOLD", monolith.DefaultStallThreshold)
	if err != nil || d == 0 {
		if env.getenv("ATLAS_STALL_THRESHOLD") != "" {
			log.Warn("ignoring ATLAS_STALL_THRESHOLD: want a positive duration such as 30s", "default", monolith.DefaultStallThreshold.String())
		}
		return monolith.DefaultStallThreshold
	}
	return d
}
