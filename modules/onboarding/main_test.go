package onboarding_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantatlas/ops/eventstore/pgtest"
	"github.com/tenantatlas/ops/modules/monolith"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, pool *pgxpool.Pool) error { return monolith.Migrate(ctx, pool) })
	pgtest.Main(m)
}
