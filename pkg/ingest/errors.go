package ingest

import "errors"

var (
	// ErrReorgTooDeep stops a chain: the node's chain and what was delivered differ below
	// the reorg window, so the source cannot reconcile them on its own.
	ErrReorgTooDeep = errors.New("reorg deeper than the window")
	// ErrNoCheckpoint is what Checkpoints.Checkpoint wraps for a chain never indexed.
	ErrNoCheckpoint = errors.New("no checkpoint")
	// ErrRangeCap marks a provider refusing an eth_getLogs range as too wide or too many
	// results. errors.As to *RPCError gives the hinted range, if any.
	ErrRangeCap = errors.New("provider range or result cap")
)

// errReorg: the next block does not link to the cursor (internal, handled by a walk back).
var errReorg = errors.New("parent hash mismatch")

// errStale: the node's answers disagreed with each other (a reorg or a lagging replica
// under way); the step is re-run from the cursor after a short pause.
var errStale = errors.New("inconsistent view of the chain")
