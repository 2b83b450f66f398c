package ingest

import (
	"cmp"
	"context"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Client is the part of an EVM JSON-RPC client the source needs. *ethclient.Client and *Pool
// implement it. HeaderByNumber with a nil number means the latest block; rpc.SafeBlockNumber
// and rpc.FinalizedBlockNumber (as big.Int) ask for the tagged blocks. A missing block is
// reported as ethereum.NotFound.
type Client interface {
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
}

// HeadSubscriber is the optional push side of a node (a WebSocket connection): a new head
// only wakes the source early; polling stays the source of truth.
type HeadSubscriber interface {
	SubscribeNewHead(ctx context.Context, ch chan<- *types.Header) (ethereum.Subscription, error)
}

// BlockRef identifies one block of the chain as the source saw it.
type BlockRef struct {
	Number uint64      `json:"number"`
	Hash   common.Hash `json:"hash"`
	Parent common.Hash `json:"parent_hash"`
	Time   uint64      `json:"time"` // unix seconds
}

func refOf(h *types.Header) BlockRef {
	return BlockRef{Number: h.Number.Uint64(), Hash: h.Hash(), Parent: h.ParentHash, Time: h.Time}
}

// Batch is a contiguous span of the chain, [From, To], with every watched log in it.
type Batch struct {
	ChainID uint64
	From    uint64
	To      uint64
	// Blocks are ascending. They always include To (the new checkpoint, Tip) and every block
	// that holds one of Logs; blocks above the finality threshold are all present.
	Blocks []BlockRef
	// Logs are in chain order (block number, then log index), each with its block hash.
	Logs []types.Log
}

// Tip is the last block of the batch: the sink stores it as the chain's checkpoint.
func (b Batch) Tip() BlockRef { return b.Blocks[len(b.Blocks)-1] }

// Block returns the ref of block n if the batch carries it (every block that holds a log).
func (b Batch) Block(n uint64) (BlockRef, bool) {
	i, ok := slices.BinarySearchFunc(b.Blocks, n, func(r BlockRef, n uint64) int { return cmp.Compare(r.Number, n) })
	if !ok {
		return BlockRef{}, false
	}
	return b.Blocks[i], true
}

// Sink receives the chain, strictly in order, one chain per source.
//
// Apply must make the batch durable (logs, block refs, and the checkpoint = Tip) before it
// returns nil; the source moves on only then, and calls Apply again with the same batch after
// an error. The same batch may arrive twice (after a crash or an error), so Apply must be
// idempotent by (chain, block hash, log index).
//
// Rollback retracts everything above ancestor.Number on this chain: retracted lists the
// blocks the source had delivered above it (sparse where the source fetched sparse
// headers), newest first. After nil the checkpoint must be ancestor.
type Sink interface {
	Apply(ctx context.Context, b Batch) error
	Rollback(ctx context.Context, chainID uint64, ancestor BlockRef, retracted []BlockRef) error
}

// Checkpoints reads back what the sink made durable, so that a restarted source resumes
// where it stopped and can verify its head by hash.
type Checkpoints interface {
	// Checkpoint returns the last block the sink committed for the chain, or an error
	// wrapping ErrNoCheckpoint when the chain was never indexed.
	Checkpoint(ctx context.Context, chainID uint64) (BlockRef, error)
	// Blocks returns the stored block refs with from <= number <= to, ascending, one per
	// number: those of the branch the sink holds now (rolled-back refs removed).
	Blocks(ctx context.Context, chainID uint64, from, to uint64) ([]BlockRef, error)
}
