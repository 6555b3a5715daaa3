package eventstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/ops/eventstore"
	"github.com/tenantatlas/ops/eventstore/pgtest"
)

// TestUUIDCodec: pools made with ConfigurePool (pgtest's, as the product's) move
// uuid.UUID as binary, not through its sql.Scanner and driver.Valuer; the values are the
// same either way, NULL included, arguments and uuid[] too.
func TestUUIDCodec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()

	var id uuid.UUID
	m := conn.Conn().TypeMap()
	require.IsType(t, eventstore.UUIDCodec{}, mustType(t, m).Codec)
	require.Equal(t, "eventstore.scanUUIDBinary", fmt.Sprintf("%T", m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id)))
	require.Equal(t, "eventstore.encodeUUIDBinary", fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id)))

	want, other := uuid.New(), uuid.New()
	var got, back uuid.UUID
	var null *uuid.UUID
	var some *uuid.UUID
	var text string
	var arr []uuid.UUID
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid, $1::uuid::text, NULL::uuid, $2::uuid, ARRAY[$1::uuid, $2::uuid], $3::uuid`,
		want, other, &want).Scan(&got, &text, &null, &some, &arr, &back))
	require.Equal(t, want, got)
	require.Equal(t, want.String(), text, "the argument went over as the same uuid")
	require.Nil(t, null)
	require.NotNil(t, some)
	require.Equal(t, other, *some)
	require.Equal(t, []uuid.UUID{want, other}, arr)
	require.Equal(t, want, back)

	err = conn.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&got)
	require.ErrorContains(t, err, "NULL", "NULL into a uuid.UUID is an error, as without the codec")

	// A connection without the codec answers the same.
	plain, err := pgx.Connect(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer plain.Close(ctx)
	var plainGot uuid.UUID
	require.NoError(t, plain.QueryRow(ctx, `SELECT $1::uuid`, want).Scan(&plainGot))
	require.Equal(t, want, plainGot)
}

func mustType(t *testing.T, m *pgtype.Map) *pgtype.Type {
	typ, ok := m.TypeForOID(pgtype.UUIDOID)
	require.True(t, ok)
	return typ
}
