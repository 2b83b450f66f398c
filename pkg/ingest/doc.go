// Package ingest is keywarden's log source: for one chain, it reads the logs keywarden watches
// (see Filter) from JSON-RPC nodes and hands them to a Sink, through reorgs, provider faults
// and restarts.
//
// Guarantees, given a Sink that is durable before Apply or Rollback returns nil:
//   - Never misses a watched log, despite crashes, restarts and reorgs: every block from the
//     start block (or the checkpoint) to the head is covered by exactly one committed batch of
//     the chain as it finally stands; a restart resumes from the sink's checkpoint and
//     verifies it by block hash, not by height.
//   - In-order delivery: Apply and Rollback are called from one goroutine, strictly in chain
//     order, each batch starting right after the previous checkpoint (or right after the
//     ancestor of the last Rollback). Ranges may be fetched concurrently; they are never
//     committed out of order, and the source moves on only after the sink returned nil.
//   - At-least-once: after an error, a crash or a restart the same batch may be applied
//     again; logs keep their identity (chain, block hash, log index), so the sink can make
//     replays harmless.
//   - Reorgs: a block that does not link to the last delivered block by parent hash, or a
//     head whose hash changed, makes the source walk back to the newest delivered block still
//     on the node's chain and call Rollback with it and every delivered block above it; the
//     span is then fetched again. The walk never goes below the reorg window: a deeper reorg
//     stops the chain with ErrReorgTooDeep (Health reports it) instead of carrying on with data
//     it cannot reconcile.
//   - A head that moves backwards (a lagging replica) is not a reorg: the source waits. A block
//     that vanishes while it is read is a reorg signal: the source re-verifies from its
//     checkpoint instead of retrying the same request.
//   - Transient faults (timeouts, HTTP 429 and 5xx, JSON-RPC errors, a sink that fails) are
//     retried with capped, jittered exponential backoff, failing over between a chain's
//     endpoints; a provider's block-range or result cap narrows the span (to the provider's
//     hinted range when it gives one) and the span widens again after successes. No range is
//     ever skipped.
//
// What the source assumes: blocks at or under the finality threshold (Options.Finality) are
// fetched with sparse headers (the blocks that hold logs, and each range's ends); a reorg
// under that threshold is still detected, since it changes the parent of the next block, and
// handled if it stays within the window. Nodes behind one URL that silently answer
// eth_getLogs for blocks they do not have yet can hide logs of that range; the unfinalised
// tail is immune (its logs are asked by block hash).
package ingest
