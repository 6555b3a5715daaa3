package directory

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore/pgmigrate"
	"github.com/tenantatlas/ops/eventstore/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error {
		return pgmigrate.Apply(ctx, pool, Migrations())
	})
	pgtest.Main(m)
}
