package ingest

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// HeaderBatcher is an optional capability of a Client: many headers by number in one round
// trip (a JSON-RPC batch). *Pool has it; the source falls back to one call per header.
type HeaderBatcher interface {
	// HeadersByNumber returns the headers of numbers, in the same order; a block the node
	// does not have makes the whole call fail with ethereum.NotFound.
	HeadersByNumber(ctx context.Context, numbers []uint64) ([]*types.Header, error)
}

var _ HeaderBatcher = (*Pool)(nil)

// maxBatch bounds one JSON-RPC batch; providers refuse large ones (often above 100).
const maxBatch = 50

// HeadersByNumber implements HeaderBatcher: a JSON-RPC batch per endpoint that can send one
// (dialled with DialPool), single calls otherwise.
func (p *Pool) HeadersByNumber(ctx context.Context, numbers []uint64) ([]*types.Header, error) {
	out := make([]*types.Header, 0, len(numbers))
	for len(numbers) > 0 {
		chunk := numbers[:min(len(numbers), maxBatch)]
		numbers = numbers[len(chunk):]
		hs := make([]*types.Header, len(chunk))
		err := p.do(ctx, "eth_getBlockByNumber_batch", func(ctx context.Context, c Client) error {
			return headersByNumber(ctx, c, chunk, hs)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}

type rpcClientOwner interface{ Client() *rpc.Client }

func headersByNumber(ctx context.Context, c Client, numbers []uint64, out []*types.Header) error {
	owner, ok := c.(rpcClientOwner)
	if !ok {
		for i, n := range numbers {
			h, err := c.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
			if err == nil && h == nil {
				err = ethereum.NotFound
			}
			if err != nil {
				return err
			}
			out[i] = h
		}
		return nil
	}
	elems := make([]rpc.BatchElem, len(numbers))
	for i, n := range numbers {
		out[i] = nil
		elems[i] = rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.EncodeUint64(n), false}, Result: &out[i]}
	}
	if err := owner.Client().BatchCallContext(ctx, elems); err != nil {
		return err
	}
	for i, e := range elems {
		if e.Error != nil {
			return e.Error
		}
		if out[i] == nil {
			return ethereum.NotFound
		}
		if got := out[i].Number.Uint64(); got != numbers[i] {
			return fmt.Errorf("batch answer %d is block %d, asked %d", i, got, numbers[i])
		}
	}
	return nil
}
