package devchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ReorgOptions describes a reorg for [Chain.Reorg].
type ReorgOptions struct {
	// Depth is how many of the newest blocks are replaced (at least 1).
	Depth int
	// Length is how many blocks the new branch has (default Depth+1, so the new branch is
	// longer than the one it replaces and the head number moves forward, as on a real chain).
	// Length may be less than Depth: the head number then goes back.
	Length int
	// Fill, when set, is called before the i-th new block (from 0) is sealed. It may submit
	// transactions with [Chain.Send] and build calldata, but must not seal blocks
	// ([Chain.Transact], [Chain.Mined], [Chain.Commit], helpers that wait for inclusion):
	// the chain is locked for the whole reorg. Without Fill the new blocks are empty.
	Fill func(ctx context.Context, i int) error
}

// ReorgResult tells what a reorg did.
type ReorgResult struct {
	// Ancestor is the newest block both branches share.
	Ancestor *types.Header
	// Replaced are the hashes of the blocks that left the canonical chain, oldest first.
	Replaced []common.Hash
	// Added are the hashes of the new branch, oldest first.
	Added []common.Hash
}

// Reorg replaces the newest opts.Depth blocks with a new branch.
//
// How: the chain (and auto-mining) is locked; pending transactions, if any, are first
// sealed in a block of their own so that the fork starts clean (that block counts in Depth).
// The simulated backend's Fork(ancestor) then makes the ancestor the canonical head at once
// (go-ethereum's BlockChain.SetCanonical: head, canonical number→hash index and log index
// rewound). The transaction pool re-injects the transactions of the dropped blocks; they are
// discarded (Rollback), so the new branch holds only what Fill sends. Each new block is then
// sealed with Commit, on top of the ancestor, with a later timestamp than the old head.
//
// What a JSON-RPC client sees afterwards: eth_getBlockByNumber for the replaced heights
// returns the new blocks, eth_getLogs over a block range returns only the new branch's logs,
// and the transactions of replaced blocks have no receipt unless Fill re-sent them; an
// eth_subscribe("logs") subscriber receives the replaced logs again with removed: true, then
// the new branch's logs, and a newHeads subscriber the new heads. Like a
// real geth node, the node still stores the replaced blocks as side-chain blocks: an
// eth_getBlockByHash (or eth_getLogs with blockHash) for a replaced hash still answers. A
// consumer detects the reorg by parent hash or by comparing the canonical hash at a height.
// While the new branch is being built the head briefly goes back to the ancestor.
func (c *Chain) Reorg(ctx context.Context, opts ReorgOptions) (ReorgResult, error) {
	if opts.Depth < 1 {
		return ReorgResult{}, errors.New("reorg: depth must be at least 1")
	}
	if opts.Length == 0 {
		opts.Length = opts.Depth + 1
	}
	if opts.Length < 1 {
		return ReorgResult{}, errors.New("reorg: length must be at least 1")
	}
	c.mineMu.Lock()
	defer c.mineMu.Unlock()

	var res ReorgResult
	for attempt := 0; ; attempt++ {
		head, err := c.client.HeaderByNumber(ctx, nil)
		if err != nil {
			return res, fmt.Errorf("reorg: read head: %w", err)
		}
		if head.Number.Uint64() < uint64(opts.Depth) {
			return res, fmt.Errorf("reorg: depth %d exceeds head %d", opts.Depth, head.Number)
		}
		ancestorNum := new(big.Int).Sub(head.Number, big.NewInt(int64(opts.Depth)))
		res.Ancestor, err = c.client.HeaderByNumber(ctx, ancestorNum)
		if err != nil {
			return res, fmt.Errorf("reorg: read ancestor %s: %w", ancestorNum, err)
		}
		res.Replaced = res.Replaced[:0]
		for n := ancestorNum.Uint64() + 1; n <= head.Number.Uint64(); n++ {
			h, err := c.client.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
			if err != nil {
				return res, fmt.Errorf("reorg: read block %d: %w", n, err)
			}
			res.Replaced = append(res.Replaced, h.Hash())
		}
		err = c.backend.Fork(res.Ancestor.Hash())
		if err == nil {
			break
		}
		if attempt > 0 {
			return res, fmt.Errorf("reorg: fork at %d: %w", ancestorNum, err)
		}
		c.backend.Commit() // pending transactions: seal them on the old branch first
	}
	c.backend.Rollback()
	c.resetNonces()
	for i := 0; i < opts.Length; i++ {
		if opts.Fill != nil {
			if err := opts.Fill(ctx, i); err != nil {
				return res, fmt.Errorf("reorg: fill block %d: %w", i, err)
			}
		}
		res.Added = append(res.Added, c.backend.Commit())
	}
	return res, nil
}
