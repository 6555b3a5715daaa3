package eventstore

import (
	"bytes"
	"context"
	"fmt"
)

// VerifyResult is the outcome of walking the hash chain.
type VerifyResult struct {
	// Checked counts the sealed events verified.
	Checked int64
	// Head is the last sealed position recorded by the sealer.
	Head int64
	// OK is true when every check passed.
	OK bool
	// FirstBad is the first global position that failed (0 when OK).
	FirstBad int64
	// Reason says what failed at FirstBad.
	Reason string
}

// Verify walks every sealed event in global order and checks, for each position, that
// the stored columns still hash to the stored content hash (an edit), that positions are
// dense (a deletion), and that the chain hash links it to its predecessor (a deletion,
// an insertion or a reordering). Finally the last position must be the sealer's head
// (a truncated tail). progress, if not nil, is called after each batch with the count
// so far. A query error is returned as an error; tampering is reported in the result.
func (s *Store) Verify(ctx context.Context, progress func(checked int64)) (VerifyResult, error) {
	var res VerifyResult
	var headChain []byte
	if err := s.pool.QueryRow(ctx, `SELECT position, chain_hash FROM es_seal_head`).Scan(&res.Head, &headChain); err != nil {
		return res, fmt.Errorf("eventstore: verify: %w", err)
	}
	var (
		prevChain []byte
		expect    int64 = 1
		buf       []byte
	)
	fail := func(pos int64, reason string) (VerifyResult, error) {
		res.FirstBad, res.Reason = pos, reason
		return res, nil
	}
	const batch = 5000
	after := int64(0)
	for {
		envs, err := s.readAll(ctx, after, batch, false)
		if err != nil {
			return res, fmt.Errorf("eventstore: verify: %w", err)
		}
		for i := range envs {
			e := &envs[i]
			if e.Position != expect {
				return fail(expect, fmt.Sprintf("position %d is missing (found %d next): an event was deleted or moved", expect, e.Position))
			}
			var sum []byte
			sum, buf = contentHash(buf, e)
			if !bytes.Equal(sum, e.Hash) {
				return fail(e.Position, "stored event does not match its content hash: the event was edited")
			}
			want := chainHash(prevChain, e.Position, sum)
			if !bytes.Equal(want, e.ChainHash) {
				return fail(e.Position, "chain hash does not link to the previous position: events were reordered, inserted or deleted")
			}
			prevChain = want
			expect++
			res.Checked++
		}
		if progress != nil {
			progress(res.Checked)
		}
		if len(envs) < batch {
			break
		}
		after = envs[len(envs)-1].Position
	}
	last := expect - 1
	if last != res.Head {
		if last < res.Head {
			return fail(last+1, fmt.Sprintf("the log ends at %d but the sealer sealed up to %d: events were deleted", last, res.Head))
		}
		return fail(res.Head+1, fmt.Sprintf("the log runs past the sealed head %d: events were inserted", res.Head))
	}
	if last > 0 && !bytes.Equal(prevChain, headChain) {
		return fail(last, "the chain does not end in the sealer's head hash")
	}
	res.OK = true
	return res, nil
}
