package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	sqlReplicaReplay = sqlQueries.Get("ReplicaReplay")
	sqlReplicaBehind = sqlQueries.Get("ReplicaBehind")
)

// ErrNotReplica is returned by MeasureReplicaLag when the read database is not a
// standby (ATLAS_READ_DATABASE_URL naming the primary itself, say).
var ErrNotReplica = errors.New("projections: the read database is not a streaming replica")

// ReplicaLag is how far a streaming replica (ATLAS_READ_DATABASE_URL) is behind the
// primary: the WAL bytes it has yet to replay and, while there are any, the seconds
// since the last transaction it replayed committed (0 when it is caught up: an idle
// primary writes nothing to replay).
type ReplicaLag struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// MeasureReplicaLag asks replica what it has replayed and primary how much it wrote since.
func MeasureReplicaLag(ctx context.Context, primary, replica *pgxpool.Pool) (ReplicaLag, error) {
	var standby bool
	var lsn string
	var secs float64
	if err := replica.QueryRow(ctx, sqlReplicaReplay).Scan(&standby, &lsn, &secs); err != nil {
		return ReplicaLag{}, fmt.Errorf("projections: replica replay position: %w", err)
	}
	if !standby || lsn == "" {
		return ReplicaLag{}, ErrNotReplica
	}
	var lag ReplicaLag
	if err := primary.QueryRow(ctx, sqlReplicaBehind, lsn).Scan(&lag.Bytes); err != nil {
		return ReplicaLag{}, fmt.Errorf("projections: primary WAL position: %w", err)
	}
	if lag.Bytes > 0 {
		lag.Seconds = secs
	}
	return lag, nil
}
