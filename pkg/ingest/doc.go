// Package ingest is keywarden's log source: for one chain, it reads the logs keywarden
// watches (see Filter) from JSON-RPC nodes and hands them to a Sink, through reorgs, provider
// faults and restarts. Run one Source per chain (Source.Run is a run-group actor); build its
// Client with DialPool for failover across a chain's URLs.
//
// Guarantees, given a Sink that is durable before Apply or Rollback returns nil and whose
// Checkpoints read back what it stored:
//   - Never misses a watched log, despite crashes, restarts and reorgs: every block from the
//     start block (or the checkpoint) up to the head is covered by a committed batch of the
//     chain as it finally stands. A restart resumes right after the sink's checkpoint and
//     verifies that block by hash, not by height.
//   - In order: Apply and Rollback are called from one goroutine, in chain order; each batch
//     starts right after the previous checkpoint, or right after the ancestor of the last
//     Rollback. Ranges may be fetched concurrently; they are never committed out of order, and
//     the source moves on only after the sink returned nil.
//   - At least once: after a sink error, a crash or a restart the same span may be applied
//     again. A log keeps its identity (chain, block hash, log index), and a batch never holds
//     the same log twice, even when a provider serves it twice.
//   - Reorgs are rolled back, not papered over: when a new block does not link to the last
//     delivered block by parent hash, or the head at the checkpoint's height has another hash,
//     the source finds the newest delivered block still on the node's chain and calls
//     Rollback with it and every delivered block above it, then fetches the span again. It
//     never walks below the reorg window (Options.Window): a deeper reorg stops the chain
//     with ErrReorgTooDeep (Run returns it, Health reports it) rather than carry on with data
//     it cannot reconcile.
//   - A head that moves backwards (a lagging replica) is not a reorg: the source waits. A
//     block hash that vanishes while it is read is a reorg signal: the source re-verifies from
//     its checkpoint, with backoff, instead of retrying that request.
//   - Faults are survived: timeouts, HTTP 429 and 5xx and JSON-RPC errors are retried with
//     capped, jittered exponential backoff, failing over between a chain's endpoints; a sink
//     error is retried the same way. A provider's block-range or result cap narrows the span
//     (to the provider's hint when its message has one) and the span widens again after
//     successes; no range is ever skipped or given up.
//
// Assumptions: blocks at or under the finality threshold (Options.Finality) are read with
// sparse headers (the blocks that hold logs and each range's ends; every block in the last
// Window blocks), so a reorg under that threshold is still detected (it changes the parent of
// the next block) and handled exactly when it stays within the window. Block hashes are
// computed from the header, as on Ethereum and the common L2s. A node that silently answers
// eth_getLogs ranges for blocks it does not have yet can hide logs of that range; the
// unfinalised tail is immune, as its logs are asked by block hash.
package ingest
